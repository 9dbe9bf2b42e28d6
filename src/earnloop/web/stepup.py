"""Confirming a money movement with a passkey (fingerprint pay, 指紋付): a page that moves money builds
an :class:`Action` and calls :func:`confirm_or_run`. At or below the threshold
(``EARNLOOP_PASSKEY_THRESHOLD``) the action runs at once; above it the user confirms it with a passkey
first (ADR 0031), and the action runs only after the assertion checks out, once. A user without a
passkey gets a page saying one is needed (and where to add it); nothing moves.

Pages register what runs an action with :func:`handler`::

    @stepup.handler("pay")
    async def _pay(request: Request, user: WebUser, action: Action) -> Response: ...

A handler takes what it needs from ``action.params``, never from the request: after a confirmation the
request is the confirmation's (``POST /app/confirm/{id}``, its body the passkey's answer). A handler
should answer with a redirect (POST/redirect/GET): :func:`finish_confirmation` turns it into
``{"redirect": url}`` for the page's script, which goes there; any other answer is passed on as is and
the script shows it in place of the page.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from earnloop.api.context import run_write
from earnloop.auth import passkeys
from earnloop.config import Settings
from earnloop.web import i18n
from earnloop.web.session import WebUser
from earnloop.web.templating import render


@dataclass(frozen=True, slots=True)
class Action:
    """A money movement waiting to run: ``kind`` names its handler, ``params`` are the form's values
    (strings, kept with the challenge while the user confirms), ``amount_minor``/``currency`` decide
    whether a passkey is needed, ``summary`` is what the confirmation page shows."""

    kind: str
    amount_minor: int
    currency: str
    summary: str
    params: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request, WebUser, Action], Awaitable[Response]]
HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs actions of ``kind`` (once per kind)."""

    def register(run: Handler) -> Handler:
        if kind in HANDLERS and HANDLERS[kind] is not run:
            raise ValueError(f"a handler for {kind!r} is registered already")
        HANDLERS[kind] = run
        return run

    return register


def relying_party(settings: Settings) -> passkeys.RelyingParty:
    """The passkeys' relying party, from ``EARNLOOP_WEBAUTHN_*`` (read at each ceremony)."""
    return passkeys.RelyingParty(
        settings.webauthn_rp_id, settings.webauthn_rp_name, tuple(settings.webauthn_origins)
    )


def action_json(action: Action) -> str:
    return json.dumps(asdict(action), sort_keys=True, ensure_ascii=False)


def action_from_json(text: str) -> Action:
    values = json.loads(text)
    params = {str(key): str(value) for key, value in dict(values["params"]).items()}
    kind, amount, currency = str(values["kind"]), int(values["amount_minor"]), str(values["currency"])
    return Action(kind, amount, currency, str(values["summary"]), params)


async def confirm_or_run(request: Request, user: WebUser, action: Action) -> Response:
    """Run ``action`` now when no passkey confirmation is needed, else ask for one."""
    run = HANDLERS[action.kind]
    settings = user.ctx.settings
    if action.amount_minor <= settings.passkey_threshold:
        return await run(request, user, action)
    rp = relying_party(settings)
    stored = action_json(action)
    try:
        challenge_id, options = await run_write(
            user.ctx, lambda conn: passkeys.begin_confirmation(conn, user.user_id, stored, rp)
        )
    except passkeys.NoPasskeyError:
        values = {"action": action, "threshold": settings.passkey_threshold, "nav": "wallet"}
        return render(request, "passkey_needed.html", values, status_code=403)
    values = {"action": action, "challenge_id": challenge_id, "options": options, "nav": "wallet"}
    return render(request, "confirm_passkey.html", values)


def refusal(request: Request, exc: passkeys.PasskeyError) -> JSONResponse:
    """A refused ceremony as the page's script shows it: ``{"error": message}`` in the user's language."""
    gettext = i18n.translations(i18n.negotiate(request)).gettext
    if isinstance(exc, passkeys.ChallengeError):
        message = gettext("This request has expired or was used already. Start again.")
    elif isinstance(exc, passkeys.AssertionRefusedError):
        message = gettext("Your passkey could not confirm this. Nothing was done.")
    elif isinstance(exc, passkeys.RegistrationRefusedError):
        message = gettext("This passkey could not be added.")
    elif isinstance(exc, passkeys.PasskeyNameError):
        message = gettext("Give the passkey a name of 1 to 64 characters.")
    elif isinstance(exc, passkeys.TooManyPasskeysError):
        message = gettext("You have as many passkeys as you can have. Remove one first.")
    else:
        message = gettext("The passkey was refused. Nothing was done.")
    return JSONResponse({"error": message}, status_code=exc.status)


async def finish_confirmation(request: Request, user: WebUser, challenge_id: str, body: bytes) -> Response:
    """Check the passkey's answer to a confirmation, then run the confirmed action with its stored
    params, once; a refusal is ``{"error": …}`` and runs nothing."""
    rp = relying_party(user.ctx.settings)
    try:
        stored = await run_write(
            user.ctx, lambda conn: passkeys.finish_confirmation(conn, user.user_id, challenge_id, body, rp)
        )
    except passkeys.PasskeyError as exc:
        return refusal(request, exc)
    action = action_from_json(stored)
    return _for_script(await HANDLERS[action.kind](request, user, action))


def _for_script(response: Response) -> Response:
    """A handler's redirect as ``{"redirect": url}`` (with its cookies); anything else unchanged."""
    location = response.headers.get("location")
    if not (300 <= response.status_code < 400 and location):
        return response
    answer = JSONResponse({"redirect": location})
    answer.raw_headers.extend((key, value) for key, value in response.raw_headers if key == b"set-cookie")
    return answer
