"""Fingerprint pay in a real browser: Chromium (headless, ``/usr/bin/chromium``) with a virtual platform
authenticator (Chrome DevTools WebAuthn domain) runs ``static/passkey.js`` — a user adds a passkey on
the passkeys page and confirms an action above the threshold with it; while the authenticator cannot
verify the user, the page says the confirmation failed and nothing runs.

The site is served on a random port and used at ``localhost`` (browsers refuse passkeys on an IP
address), so the test sets ``webauthn_origins`` to that origin once the port is known."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from earnloop.auth import service as auth
from earnloop.auth import sessions
from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.risk.engine import RiskEngine
from earnloop.web import stepup
from earnloop.web.server import create_site
from earnloop.web.session import SESSION_COOKIE, SignedIn, WebUser
from earnloop.web.templating import csrf_input
from tests.conftest import ADMIN_TOKEN, IN_CI, DbTarget
from tests.live_server import serve

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path(os.environ.get("EARNLOOP_TEST_CHROMIUM", "/usr/bin/chromium"))
RUNS: list[dict[str, str]] = []


@stepup.handler("browser-test-transfer")
async def _transfer(request: Request, user: WebUser, action: stepup.Action) -> Response:
    RUNS.append(action.params)
    return RedirectResponse("/app/account/passkeys?moved=" + action.params["ref"], status_code=303)


async def _move(
    request: Request, user: SignedIn, amount: Annotated[int, Form()], ref: Annotated[str, Form()]
) -> Response:
    action = stepup.Action("browser-test-transfer", amount, "TWD", f"Move {ref}", {"ref": ref})
    return await stepup.confirm_or_run(request, user, action)


async def _move_form(request: Request) -> Response:
    return HTMLResponse(
        f'<form method="post" action="/app/test-move">{csrf_input(request)}'
        '<input name="amount" value="60000">'
        '<input name="ref" value="big"><button id="move">Move</button></form>'
    )


@pytest.fixture
def origin(db: Database, db_target: DbTarget, clock: ManualClock, risk: RiskEngine) -> Iterator[str]:
    """The site's origin at localhost, passkeys configured for it, with a test page moving "money"."""
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing; CI requires it")
        pytest.skip(f"{CHROMIUM} is missing")
    settings = Settings(database_url=db_target.url, admin_token=ADMIN_TOKEN, passkey_threshold=50_000)
    app = create_site(settings, db=db, clock=clock, risk=risk)
    app.add_api_route("/app/test-move", _move, methods=["POST"])
    app.add_api_route("/app/test-move", _move_form, methods=["GET"])
    RUNS.clear()
    with serve(app) as base_url:
        localhost = base_url.replace("127.0.0.1", "localhost")
        settings.webauthn_origins = [localhost]
        yield localhost


@pytest.fixture
def browser(origin: str, db: Database) -> Iterator[tuple[Any, Any, str]]:
    """A signed-in Chromium page with a virtual platform authenticator (user verification: yes): the
    page, its DevTools session and the authenticator's id."""
    with db.uow() as conn:
        token = sessions.start_session(conn, auth.create_user(conn, "browser-payer").id)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        context = browser.new_context()
        context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": origin}])
        tab = context.new_page()
        devtools = context.new_cdp_session(tab)
        devtools.send("WebAuthn.enable")
        options = {
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": True,
            "hasUserVerification": True,
            "isUserVerified": True,
            "automaticPresenceSimulation": True,
        }
        added = devtools.send("WebAuthn.addVirtualAuthenticator", {"options": options})
        yield tab, devtools, added["authenticatorId"]
        browser.close()


def test_a_user_adds_a_passkey_and_confirms_a_large_action_with_it(
    origin: str, browser: tuple[Any, Any, str]
) -> None:
    page, devtools, authenticator_id = browser
    page.goto(origin + "/app/account/passkeys")
    page.fill("#passkey-name", "Virtual fingerprint")
    page.click("#passkey-register button[type=submit]")
    page.wait_for_selector("text=Virtual fingerprint")
    assert "Not used yet" in page.content()

    page.goto(origin + "/app/test-move")
    page.click("#move")
    page.wait_for_selector("#passkey-confirm")
    assert page.text_content(".amount") == "NT$600.00"
    assert RUNS == []

    devtools.send("WebAuthn.setUserVerified", {"authenticatorId": authenticator_id, "isUserVerified": False})
    page.click("#passkey-confirm button[type=submit]")
    page.wait_for_function("document.getElementById('passkey-status').textContent.length > 0")
    assert "Nothing was done" in page.text_content("#passkey-status")
    assert RUNS == []

    devtools.send("WebAuthn.setUserVerified", {"authenticatorId": authenticator_id, "isUserVerified": True})
    page.click("#passkey-confirm button[type=submit]")
    page.wait_for_url("**/app/account/passkeys?moved=big")
    assert RUNS == [{"ref": "big"}]
    assert "Last used" in page.content()
