"""Passkeys in the app (ADR 0031): the list at ``/app/account/passkeys`` (add, remove), the registration
ceremony's two steps for ``static/passkey.js`` (options, then the authenticator's answer), and the
confirmation of a step-up action (``POST /app/confirm/{challenge_id}``, see :mod:`earnloop.web.stepup`).

The ceremonies' endpoints take and give JSON (the script sends the CSRF token in ``x-csrftoken``);
refusals are ``{"error": message}`` in the user's language.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from earnloop import bounds
from earnloop.api.context import run_read, run_write
from earnloop.api.types import Id
from earnloop.auth import passkeys
from earnloop.web import i18n, stepup
from earnloop.web.session import SignedIn, WebUser
from earnloop.web.templating import render

router = APIRouter()
LIST_PATH = "/app/account/passkeys"


async def _list_page(
    request: Request, user: WebUser, *, error: str | None = None, status_code: int = 200
) -> Response:
    found = await run_read(user.ctx, lambda conn: passkeys.list_passkeys(conn, user.user_id))
    values = {"passkeys": found, "error": error, "nav": "account"}
    return render(request, "passkeys.html", values, status_code=status_code)


def _is_json(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"


@router.get(LIST_PATH)
async def passkey_list(request: Request, user: SignedIn) -> Response:
    return await _list_page(request, user)


@router.post(LIST_PATH + "/options")
async def registration_options(request: Request, user: SignedIn) -> Response:
    """Begin registering a passkey: ``{"challenge_id", "options"}`` for ``navigator.credentials.create``."""
    rp = stepup.relying_party(user.ctx.settings)
    try:
        challenge_id, options = await run_write(
            user.ctx, lambda conn: passkeys.begin_registration(conn, user.user_id, user.handle, rp)
        )
    except passkeys.PasskeyError as exc:
        return stepup.refusal(request, exc)
    return JSONResponse({"challenge_id": challenge_id, "options": json.loads(options)})


def _registration(body: bytes) -> tuple[str, str, str] | None:
    """``(challenge_id, name, credential JSON)`` from the script's request, or ``None``."""
    try:
        values: Any = bounds.loads(body)
    except ValueError:
        return None
    if not isinstance(values, dict):
        return None
    challenge_id, name, credential = values.get("challenge_id"), values.get("name"), values.get("credential")
    if not (isinstance(challenge_id, str) and isinstance(name, str) and isinstance(credential, dict)):
        return None
    return challenge_id, name, json.dumps(credential)


@router.post(LIST_PATH)
async def register_passkey(request: Request, user: SignedIn) -> Response:
    """Keep the passkey the authenticator created: ``{"redirect": list}``, or ``{"error": …}``."""
    gettext = i18n.translations(i18n.negotiate(request)).gettext
    if not _is_json(request):
        message = gettext("Adding a passkey needs JavaScript in your browser.")
        return await _list_page(request, user, error=message, status_code=400)
    found = _registration(await request.body())
    if found is None:
        return JSONResponse({"error": gettext("This passkey could not be added.")}, status_code=400)
    challenge_id, name, credential = found
    rp = stepup.relying_party(user.ctx.settings)
    try:
        await run_write(
            user.ctx,
            lambda conn: passkeys.finish_registration(conn, user.user_id, challenge_id, credential, rp, name),
        )
    except passkeys.PasskeyError as exc:
        return stepup.refusal(request, exc)
    return JSONResponse({"redirect": LIST_PATH})


@router.post(LIST_PATH + "/{passkey_id}/remove")
async def remove_passkey(request: Request, user: SignedIn, passkey_id: Id) -> Response:
    try:
        await run_write(user.ctx, lambda conn: passkeys.remove_passkey(conn, user.user_id, passkey_id))
    except passkeys.UnknownPasskeyError:
        message = i18n.translations(i18n.negotiate(request)).gettext("There is no such passkey among yours.")
        return await _list_page(request, user, error=message, status_code=404)
    return RedirectResponse(LIST_PATH, status_code=303)


@router.post("/app/confirm/{challenge_id}")
async def confirm(request: Request, user: SignedIn, challenge_id: str) -> Response:
    """The passkey's answer to a step-up confirmation; runs the confirmed action once."""
    if not _is_json(request):
        return render(request, "passkey_nojs.html", {"nav": "wallet"}, status_code=400)
    return await stepup.finish_confirmation(request, user, challenge_id, await request.body())
