"""Fingerprint pay (指紋付) in the app, on a real server: a user adds a passkey, lists and removes it, and
confirms an action above the threshold with it; a software authenticator plays the browser. An
assertion from another origin, for another RP id, over another challenge, without user verification or
with a sign count that does not grow is refused and the action does not run; a good one runs it once."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.risk.engine import RiskEngine
from earnloop.web import stepup
from earnloop.web.server import create_site
from earnloop.web.session import SignedIn, WebUser
from tests.conftest import DbTarget
from tests.integration.web.conftest import SignIn, csrf_token, passkey_site_settings
from tests.integration.web.soft_authenticator import SoftAuthenticator
from tests.live_server import serve


def _csrf(http: httpx.Client) -> dict[str, str]:
    """The header passkey.js sends with its JSON requests (the app's CSRF token)."""
    return {"X-CSRFToken": csrf_token(http)}


def _form(http: httpx.Client, **fields: str) -> dict[str, str]:
    """A form's fields with the hidden CSRF field every form of the app carries."""
    return {"csrftoken": csrf_token(http), **fields}


THRESHOLD = 50_000
RUNS: list[tuple[int, dict[str, str]]] = []  # what the test action did: (user id, params), in order


@stepup.handler("test-transfer")
async def _transfer(request: Request, user: WebUser, action: stepup.Action) -> Response:
    RUNS.append((user.user_id, action.params))
    response = RedirectResponse("/app/wallet?moved=" + action.params["ref"], status_code=303)
    response.set_cookie("moved", action.params["ref"])
    return response


async def _move(
    request: Request, user: SignedIn, amount: Annotated[int, Form()], ref: Annotated[str, Form()]
) -> Response:
    action = stepup.Action("test-transfer", amount, "TWD", f"Move {ref}", {"ref": ref})
    return await stepup.confirm_or_run(request, user, action)


@pytest.fixture
def site(db: Database, db_target: DbTarget, clock: ManualClock, risk: RiskEngine) -> Iterator[str]:
    """The site with a test page that moves "money" through the step-up (``POST /app/test-move``)."""
    settings = passkey_site_settings(db_target, THRESHOLD)
    app = create_site(settings, db=db, clock=clock, risk=risk)
    app.add_api_route("/app/test-move", _move, methods=["POST"])
    RUNS.clear()
    with serve(app) as base_url:
        yield base_url


def add_passkey(
    http: httpx.Client, device: SoftAuthenticator, name: str = "My phone", **lie: Any
) -> httpx.Response:
    begun = http.post("/app/account/passkeys/options", headers=_csrf(http))
    assert begun.status_code == 200
    started = begun.json()
    body = {
        "challenge_id": started["challenge_id"],
        "name": name,
        "credential": device.create(started["options"], **lie),
    }
    return http.post("/app/account/passkeys", json=body, headers=_csrf(http))


def confirmation_page(response: httpx.Response) -> tuple[str, dict[str, Any]]:
    """The confirm URL and the WebAuthn options on the confirmation page."""
    assert response.status_code == 200
    url = re.search(r'action="(/app/confirm/[^"]+)"', response.text)
    options = re.search(r'data-options="([^"]+)"', response.text)
    assert url
    assert options
    return url.group(1), json.loads(html.unescape(options.group(1)))


def test_a_user_adds_a_passkey_sees_it_listed_and_removes_it(
    browser_client: httpx.Client, sign_in: SignIn
) -> None:
    sign_in(browser_client, "pk-web-user")
    empty = browser_client.get("/app/account/passkeys")
    assert "You have no passkey yet." in empty.text
    assert "/app/static/passkey.js" in empty.text
    added = add_passkey(browser_client, SoftAuthenticator(), name="Work laptop")
    assert added.json() == {"redirect": "/app/account/passkeys"}
    listed = browser_client.get("/app/account/passkeys")
    assert "Work laptop" in listed.text
    assert "Not used yet" in listed.text
    chinese = browser_client.get("/app/account/passkeys", headers={"Accept-Language": "zh-TW"})
    assert "通行密鑰" in chinese.text
    passkey_id = re.search(r'action="/app/account/passkeys/(\d+)/remove"', listed.text)
    assert passkey_id
    removed = browser_client.post(
        f"/app/account/passkeys/{passkey_id.group(1)}/remove", data=_form(browser_client)
    )
    assert (removed.status_code, removed.headers["location"]) == (303, "/app/account/passkeys")
    assert "Work laptop" not in browser_client.get("/app/account/passkeys").text


def test_a_passkey_created_for_another_origin_is_not_added(
    browser_client: httpx.Client, sign_in: SignIn
) -> None:
    sign_in(browser_client, "pk-web-phished")
    refused = add_passkey(
        browser_client, SoftAuthenticator(), name="Phished", origin="http://localhost.evil.example"
    )
    assert refused.status_code == 400
    assert refused.json() == {"error": "This passkey could not be added."}
    assert "Phished" not in browser_client.get("/app/account/passkeys").text


def test_nobody_removes_another_users_passkey(
    browser_client: httpx.Client, site: str, sign_in: SignIn
) -> None:
    sign_in(browser_client, "pk-web-owner")
    add_passkey(browser_client, SoftAuthenticator(), name="Owner key")
    listed = browser_client.get("/app/account/passkeys").text
    passkey_id = re.search(r'action="/app/account/passkeys/(\d+)/remove"', listed)
    assert passkey_id
    with httpx.Client(base_url=site, follow_redirects=False) as thief:
        sign_in(thief, "pk-web-thief")
        refused = thief.post(f"/app/account/passkeys/{passkey_id.group(1)}/remove", data=_form(thief))
        assert refused.status_code == 404
        assert "There is no such passkey among yours." in refused.text
    assert "Owner key" in browser_client.get("/app/account/passkeys").text


def test_an_action_at_or_below_the_threshold_runs_at_once(
    browser_client: httpx.Client, sign_in: SignIn
) -> None:
    user_id = sign_in(browser_client, "pk-web-small")
    moved = browser_client.post(
        "/app/test-move", data=_form(browser_client, amount=str(THRESHOLD), ref="small")
    )
    assert (moved.status_code, moved.headers["location"]) == (303, "/app/wallet?moved=small")
    assert [(user_id, {"ref": "small"})] == RUNS


def test_above_the_threshold_without_a_passkey_nothing_moves(
    browser_client: httpx.Client, sign_in: SignIn
) -> None:
    sign_in(browser_client, "pk-web-none")
    asked = browser_client.post(
        "/app/test-move", data=_form(browser_client, amount=str(THRESHOLD + 1), ref="big")
    )
    assert asked.status_code == 403
    assert "A passkey is needed" in asked.text
    assert 'href="/app/account/passkeys"' in asked.text
    assert RUNS == []


@pytest.mark.parametrize(
    "lie",
    [
        {"origin": "http://127.0.0.1:8000"},
        {"rp_id": "127.0.0.1"},
        {"challenge": "c29tZS1vdGhlci1jaGFsbGVuZ2U"},
        {"uv": False},
        {"sign_count": 0},  # the authenticator's count went back: a clone
    ],
)
def test_a_passkey_answer_that_does_not_check_out_is_refused_and_the_action_does_not_run(
    browser_client: httpx.Client, sign_in: SignIn, lie: dict[str, Any]
) -> None:
    sign_in(browser_client, "pk-web-lied-to")
    device = SoftAuthenticator(sign_count=5)
    add_passkey(browser_client, device)
    confirm_url, options = confirmation_page(
        browser_client.post("/app/test-move", data=_form(browser_client, amount="60000", ref="big"))
    )
    refused = browser_client.post(confirm_url, json=device.get(options, **lie), headers=_csrf(browser_client))
    assert refused.status_code == 403
    assert refused.json() == {"error": "Your passkey could not confirm this. Nothing was done."}
    assert RUNS == []


def test_a_good_passkey_answer_runs_the_action_once(browser_client: httpx.Client, sign_in: SignIn) -> None:
    user_id = sign_in(browser_client, "pk-web-payer")
    device = SoftAuthenticator()
    add_passkey(browser_client, device)
    page = browser_client.post("/app/test-move", data=_form(browser_client, amount="60000", ref="big"))
    assert "Move big" in page.text
    assert "600.00" in page.text  # money(): TWD has two minor digits
    assert "Confirm with passkey" in page.text
    confirm_url, options = confirmation_page(page)
    assert [c["id"] for c in options["allowCredentials"]] == [device.id]
    assert RUNS == []
    answer = device.get(options)
    done = browser_client.post(confirm_url, json=answer, headers=_csrf(browser_client))
    assert done.json() == {"redirect": "/app/wallet?moved=big"}
    assert done.cookies.get("moved") == "big"
    assert [(user_id, {"ref": "big"})] == RUNS
    replayed = browser_client.post(confirm_url, json=answer, headers=_csrf(browser_client))
    assert replayed.status_code == 409
    again = browser_client.post(confirm_url, json=device.get(options), headers=_csrf(browser_client))
    assert again.status_code == 409
    assert [(user_id, {"ref": "big"})] == RUNS


def test_another_user_cannot_answer_a_users_confirmation(
    browser_client: httpx.Client, site: str, sign_in: SignIn
) -> None:
    sign_in(browser_client, "pk-web-victim")
    device = SoftAuthenticator()
    add_passkey(browser_client, device)
    confirm_url, options = confirmation_page(
        browser_client.post("/app/test-move", data=_form(browser_client, amount="70000", ref="x"))
    )
    with httpx.Client(base_url=site, follow_redirects=False) as other:
        sign_in(other, "pk-web-other")
        own = SoftAuthenticator()
        add_passkey(other, own)
        assert other.post(confirm_url, json=own.get(options), headers=_csrf(other)).status_code == 409
    assert RUNS == []


def test_without_javascript_the_confirmation_says_so_and_nothing_runs(
    browser_client: httpx.Client, sign_in: SignIn
) -> None:
    sign_in(browser_client, "pk-web-nojs")
    add_passkey(browser_client, SoftAuthenticator())
    confirm_url, _ = confirmation_page(
        browser_client.post("/app/test-move", data=_form(browser_client, amount="60000", ref="big"))
    )
    plain = browser_client.post(confirm_url, data=_form(browser_client))
    assert plain.status_code == 400
    assert "needs JavaScript" in plain.text
    assert RUNS == []


def test_adding_a_passkey_without_javascript_says_it_is_needed(
    browser_client: httpx.Client, sign_in: SignIn
) -> None:
    sign_in(browser_client, "pk-web-plain-form")
    plain = browser_client.post("/app/account/passkeys", data=_form(browser_client, name="Plain"))
    assert plain.status_code == 400
    assert "Adding a passkey needs JavaScript in your browser." in plain.text
    assert "You have no passkey yet." in plain.text
