"""Accounts of the app (ADR 0030): sign-up and sign-in with a password (rate-limited), sign-out of this
session or of every session, and the account page.

Every sign-in starts a new session with a new token and ends the one the browser carried, whatever it
was (no session fixation). A form with an error is shown again with its message and the typed handle,
never the password. Hashing runs on a worker thread, outside any transaction.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from earnloop.api.context import app_context, run_read, run_write
from earnloop.api.inbound import client_ip
from earnloop.auth import passwords, sessions, sign_in_limits
from earnloop.auth.service import DuplicateError
from earnloop.web.session import (
    SESSION_COOKIE,
    MaybeSignedIn,
    SignedIn,
    WebUser,
    clear_session_cookie,
    set_session_cookie,
)
from earnloop.web.templating import render

router = APIRouter()
HANDLE_FIELD_MAX = 64

TextField = Annotated[str, Form()]
NextField = Annotated[str, Form(alias="next")]
NextQuery = Annotated[str, Query(alias="next")]


def safe_next(raw: str) -> str:
    """Where to go after signing in: a path of the app (``/app``, ``/app/…``, ``/app?…``), else ``/app``."""
    inside = raw == "/app" or raw.startswith(("/app/", "/app?"))
    return raw if inside and "//" not in raw and "\\" not in raw else "/app"


def _form(
    request: Request,
    template: str,
    *,
    handle: str,
    next_path: str,
    error: str | None = None,
    status: int = 200,
    minutes: int = 0,
) -> Response:
    """The form page, again with ``error``'s message and the typed handle (never the password)."""
    context = {"handle": handle[:HANDLE_FIELD_MAX], "next": safe_next(next_path), "error": error}
    return render(request, template, {**context, "minutes": minutes}, status_code=status)


def _empty_form(request: Request, user: WebUser | None, template: str, next_path: str) -> Response:
    """The sign-up or sign-in form, empty; a user already signed in goes on to ``next_path``."""
    if user is not None:
        return RedirectResponse(safe_next(next_path), status_code=303)
    return _form(request, template, handle="", next_path=next_path)


@router.get("/app/signup")
async def sign_up_page(request: Request, user: MaybeSignedIn, next_path: NextQuery = "/app") -> Response:
    return _empty_form(request, user, "signup.html", next_path)


@router.post("/app/signup")
async def sign_up(
    request: Request, handle: TextField = "", password: TextField = "", next_path: NextField = "/app"
) -> Response:
    handle = handle.strip().lower()
    error = _sign_up_error(handle, password)
    if error is not None:
        return _form(request, "signup.html", handle=handle, next_path=next_path, error=error, status=422)
    hashed = await run_in_threadpool(passwords.hash_password, password)
    try:
        user_id = await run_write(
            app_context(request), lambda conn: passwords.create_with_hash(conn, handle, hashed)
        )
    except DuplicateError:
        return _form(request, "signup.html", handle=handle, next_path=next_path, error="taken", status=422)
    return await _signed_in(request, user_id, next_path)


def _sign_up_error(handle: str, password: str) -> str | None:
    try:
        passwords.check_handle(handle)
    except passwords.HandleError:
        return "handle"
    try:
        passwords.check_policy(password)
    except passwords.PasswordPolicyError as exc:
        return f"password_{exc.reason}"
    return None


@router.get("/app/signin")
async def sign_in_page(request: Request, user: MaybeSignedIn, next_path: NextQuery = "/app") -> Response:
    return _empty_form(request, user, "signin.html", next_path)


@router.post("/app/signin")
async def sign_in(
    request: Request, handle: TextField = "", password: TextField = "", next_path: NextField = "/app"
) -> Response:
    handle = handle.strip().lower()[:HANDLE_FIELD_MAX]
    if not handle or not password:
        return _form(request, "signin.html", handle=handle, next_path=next_path, error="missing", status=400)
    ctx = app_context(request)
    now_ns, address = ctx.ledger.clock.now_ns(), client_ip(request)
    try:
        attempt = await run_write(
            ctx, lambda conn: sign_in_limits.begin_attempt(conn, handle, address, now_ns=now_ns)
        )
    except sign_in_limits.TooManyAttemptsError as exc:
        page = _form(
            request,
            "signin.html",
            handle=handle,
            next_path=next_path,
            error="too_many",
            status=429,
            minutes=exc.minutes,
        )
        page.headers["Retry-After"] = str(exc.retry_after_s)
        return page
    stored = await run_read(ctx, lambda conn: passwords.stored_hash(conn, handle))
    checked = await run_in_threadpool(passwords.check, stored, password)
    if checked.user_id is None:
        return _form(request, "signin.html", handle=handle, next_path=next_path, error="wrong", status=400)
    user_id, new_hash = checked.user_id, checked.new_hash

    def succeeded(conn: Connection) -> None:
        sign_in_limits.attempt_succeeded(conn, attempt)
        if new_hash is not None:
            passwords.store_hash(conn, user_id, new_hash)

    await run_write(ctx, succeeded)
    return await _signed_in(request, user_id, next_path)


async def _signed_in(request: Request, user_id: int, next_path: str) -> Response:
    """Start a new session (ending the one the browser carried, if any) and go on to ``next_path``."""
    carried = request.cookies.get(SESSION_COOKIE)

    def rotate(conn: Connection) -> str:
        if carried:
            sessions.end_session(conn, carried)
        return sessions.start_session(conn, user_id)

    token = await run_write(app_context(request), rotate)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    set_session_cookie(response, request, token)
    return response


@router.post("/app/signout")
async def sign_out(request: Request) -> Response:
    """End this browser's session (others stay signed in)."""
    carried = request.cookies.get(SESSION_COOKIE)
    if carried:
        await run_write(app_context(request), lambda conn: sessions.end_session(conn, carried))
    response = RedirectResponse("/app", status_code=303)
    clear_session_cookie(response, request)
    return response


@router.post("/app/signout-everywhere")
async def sign_out_everywhere(request: Request, user: SignedIn) -> Response:
    """End every session of the user, this one included."""
    await run_write(user.ctx, lambda conn: sessions.end_all_sessions(conn, user.user_id))
    response = RedirectResponse("/app", status_code=303)
    clear_session_cookie(response, request)
    return response


@router.get("/app/account")
async def account(request: Request, user: SignedIn) -> Response:
    return render(request, "account.html", {"nav": "account", "account": user})
