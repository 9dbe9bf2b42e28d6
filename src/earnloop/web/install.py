"""Mounting the app on the API's FastAPI application: its static files, its pages (one router per
area, each in ``pages/``), and the redirect to sign in for pages that need a signed-in user."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse, Response

from earnloop.web import pages
from earnloop.web.session import SignInRequiredError
from earnloop.web.templating import STATIC_PREFIX

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Add the app's routes under ``/app`` (and ``/`` → ``/app``)."""
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="app-static")
    for router in pages.ROUTERS:
        app.include_router(router, include_in_schema=False)
    app.add_exception_handler(SignInRequiredError, _to_sign_in)


async def _to_sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequiredError)
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": exc.location})
    return RedirectResponse(exc.location, status_code=303)
