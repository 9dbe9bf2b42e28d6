"""CSRF protection of the app's forms (ADR 0030): ``asgi-csrf``'s double-submit cookie, signed with the
app secret (``EARNLOOP_APP_SECRET``), in front of every request under ``/app``.

Every form carries the token in its ``csrftoken`` field (``templating.csrf_input``); a POST (or any
unsafe method) under ``/app`` whose field does not match its cookie is refused with a 403 page — also
one without any cookie, which ``asgi-csrf`` would let through by default. Nothing outside ``/app`` (the
API with its bearer tokens and partner keys, postbacks) ever reaches the check, and the app's static
files skip it. The cookie is ``Secure`` on https and in production.
"""

from __future__ import annotations

import secrets
from enum import Enum
from typing import Any

import structlog
from asgi_csrf import asgi_csrf  # type: ignore[import-untyped]
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from earnloop.config import Settings
from earnloop.secretbox import dev_secret
from earnloop.web.templating import CSRF_FIELD, STATIC_PREFIX, render

CSRF_COOKIE = CSRF_FIELD
ROUTED = "earnloop.csrf_routed"
# what the router records in the scope for the middlewares outside (the request log's and metrics' route)
ROUTED_KEYS = ("route", "endpoint", "path_params")
log = structlog.get_logger("earnloop.web")


class AppSecretError(ValueError):
    """The app secret is missing where it is required (the message names the setting)."""


def app_secret(settings: Settings) -> str:
    """``EARNLOOP_APP_SECRET``; in development, the secret in ``app_secret_file`` (created if missing)."""
    if settings.app_secret is not None:
        return settings.app_secret.get_secret_value()
    if settings.environment == "production":
        raise AppSecretError("EARNLOOP_APP_SECRET must be set when EARNLOOP_ENVIRONMENT=production")
    return dev_secret(settings.app_secret_file, secrets.token_urlsafe(32))


def under_app(path: str) -> bool:
    return path == "/app" or path.startswith("/app/")


class _AppPaths:
    """``always_protect`` for ``asgi-csrf``: every path under ``/app`` (it asks ``path in …``)."""

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and under_app(path)


def _outside_app(scope: Scope) -> bool:
    return not under_app(scope["path"])


async def _refuse(scope: Scope, send: Send, error: Enum) -> None:
    """The 403 page: readable, in the request's language, with a fresh token for the next try."""
    log.warning("csrf_refused", method=scope["method"], path=scope["path"], reason=error.name.lower())
    page = render(Request(scope), "csrf_failed.html", status_code=403)
    await send({"type": "http.response.start", "status": 403, "headers": page.raw_headers})
    await send({"type": "http.response.body", "body": page.body})


class CsrfMiddleware:
    """Sends requests under ``/app`` (static files aside) through ``asgi-csrf``, everything else past it."""

    def __init__(self, app: ASGIApp, *, secret: str, production: bool) -> None:
        self.app = app
        options = {
            "signing_secret": secret,
            "always_protect": _AppPaths(),
            "always_set_cookie": True,  # so that a first visit already has the cookie its forms need
            "skip_if_scope": _outside_app,
            "cookie_samesite": "Lax",
            "send_csrf_failed": _refuse,
        }
        self._http = asgi_csrf(self._routed, cookie_secure=production, **options)
        self._https = asgi_csrf(self._routed, cookie_secure=True, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not under_app(path) or path.startswith(STATIC_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        protected = self._https if scope.get("scheme") == "https" else self._http
        routed: dict[str, Any] = {}
        scope[ROUTED] = routed
        try:
            await protected(scope, receive, send)
        finally:
            scope.update(routed)

    async def _routed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app on ``asgi-csrf``'s copy of the scope; what routing adds is handed back to the scope
        the outer middlewares see (the request metrics' route label)."""
        try:
            await self.app(scope, receive, send)
        finally:
            scope[ROUTED].update({key: scope[key] for key in ROUTED_KEYS if key in scope})
