"""Mounting the app on the API's FastAPI application: its static files, its pages (one router per
area, each in ``pages/``), the redirect to sign in for pages that need a signed-in user, and the CSRF
check of everything under ``/app`` (:mod:`earnloop.web.csrf`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse, Response

from earnloop.api.context import AppContext
from earnloop.web import pages
from earnloop.web.csrf import CsrfMiddleware, app_secret
from earnloop.web.session import SignInRequiredError
from earnloop.web.templating import STATIC_PREFIX

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Add the app's routes under ``/app`` (and ``/`` → ``/app``)."""
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="app-static")
    for router in pages.ROUTERS:
        app.include_router(router, include_in_schema=False)
    app.add_exception_handler(SignInRequiredError, _to_sign_in)
    settings = _context(app).settings
    # innermost (inside the body limits and the request log): the check reads at most a limited body
    production = settings.environment == "production"
    app.user_middleware.append(Middleware(CsrfMiddleware, secret=app_secret(settings), production=production))


def _context(app: FastAPI) -> AppContext:
    ctx: AppContext = app.state.ctx
    return ctx


async def _to_sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequiredError)
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": exc.location})
    return RedirectResponse(exc.location, status_code=303)
