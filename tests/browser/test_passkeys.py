"""Fingerprint pay in Chromium with the harness's virtual platform authenticator, through
``static/passkey.js``: a user adds a passkey on the passkeys page and confirms an action above the
threshold with it; while the authenticator cannot verify the user the page says the confirmation failed
and nothing runs, then a verified confirmation runs the action once.

The action is a test-only step-up (``POST /app/test-move``) added to the module's site."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import Form, Request
from playwright.sync_api import BrowserContext, Page, expect
from starlette.responses import HTMLResponse, RedirectResponse, Response

from earnloop.web import stepup
from earnloop.web.session import SignedIn, WebUser
from earnloop.web.templating import csrf_input
from tests.browser.harness import AppServer, sign_in, virtual_authenticator

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


@pytest.fixture(scope="module")
def move_site(app_site: AppServer) -> AppServer:
    """The module's site with the test page moving "money" (NT$600.00, above the default threshold)."""
    assert app_site.settings.passkey_threshold < 60_000
    app_site.app.add_api_route("/app/test-move", _move, methods=["POST"])
    app_site.app.add_api_route("/app/test-move", _move_form, methods=["GET"])
    return app_site


def test_a_user_adds_a_passkey_and_confirms_a_large_action_with_it(
    page: Page, context: BrowserContext, move_site: AppServer
) -> None:
    RUNS.clear()
    sign_in(context, move_site, "browser-payer")
    authenticator = virtual_authenticator(page)
    page.goto("/app/account/passkeys")
    page.fill("#passkey-name", "Virtual fingerprint")
    page.click("#passkey-register button[type=submit]")
    expect(page.locator("text=Virtual fingerprint").first).to_be_visible()
    assert len(authenticator.credentials()) == 1
    assert "Not used yet" in page.content()

    page.goto("/app/test-move")
    page.click("#move")
    page.wait_for_selector("#passkey-confirm")
    assert page.text_content(".amount") == "NT$600.00"
    assert RUNS == []

    verified = {"authenticatorId": authenticator.authenticator_id}
    authenticator.cdp.send("WebAuthn.setUserVerified", verified | {"isUserVerified": False})
    page.click("#passkey-confirm button[type=submit]")
    expect(page.locator("#passkey-status")).to_contain_text("Nothing was done")
    assert RUNS == []

    authenticator.cdp.send("WebAuthn.setUserVerified", verified | {"isUserVerified": True})
    page.click("#passkey-confirm button[type=submit]")
    page.wait_for_url("**/app/account/passkeys?moved=big")
    assert RUNS == [{"ref": "big"}]
    assert "Last used" in page.content()
