"""Who is signed in: the session cookie resolved to a user once per request (``current_user``), the
dependency every signed-in page uses (``require_web_user``), which sends everyone else to sign in, and
the cookie itself (``set_session_cookie``: HttpOnly, SameSite=Lax, Secure on https and in production)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.responses import Response

from earnloop.api.context import AppContext, app_context, run_read
from earnloop.auth import sessions

SESSION_COOKIE = "earnloop_session"
SCOPE_KEY = "earnloop.web_user"


@dataclass(frozen=True, slots=True)
class WebUser:
    """A signed-in user of the app, and what a page needs to reach the domain services."""

    ctx: AppContext
    user_id: int
    handle: str
    session_token: str


class SignInRequiredError(Exception):
    """Raised by :func:`require_web_user`; the app answers with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path

    @property
    def location(self) -> str:
        return "/app/signin?next=" + quote(self.next_path, safe="/")


async def current_user(request: Request) -> WebUser | None:
    """The user of the request's live session, or ``None`` (looked up once per request)."""
    if SCOPE_KEY in request.scope:
        found: WebUser | None = request.scope[SCOPE_KEY]
        return found
    ctx = app_context(request)
    token = request.cookies.get(SESSION_COOKIE)
    user = None
    if token:
        owner = await run_read(ctx, lambda conn: sessions.session_user(conn, token))
        if owner is not None:
            user = WebUser(ctx, owner.user_id, owner.handle, token)
    request.scope[SCOPE_KEY] = user
    return user


async def require_web_user(request: Request) -> WebUser:
    user = await current_user(request)
    if user is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequiredError(path if request.method == "GET" else "/app")
    return user


SignedIn = Annotated[WebUser, Depends(require_web_user)]
MaybeSignedIn = Annotated[WebUser | None, Depends(current_user)]


def secure_cookies(request: Request) -> bool:
    """Whether the app's cookies get ``Secure``: on https, and always in production."""
    return request.url.scheme == "https" or app_context(request).settings.environment == "production"


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=sessions.DEFAULT_MAX_AGE_S,
        path="/",
        secure=secure_cookies(request),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    secure = secure_cookies(request)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
