"""The front door: ``/`` and ``/app`` (the game zone for a signed-in user, a welcome page otherwise),
and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from earnloop.web import i18n
from earnloop.web.pages.account import safe_next
from earnloop.web.session import MaybeSignedIn
from earnloop.web.templating import render

router = APIRouter()
ONE_YEAR_S = 365 * 24 * 3600


@router.get("/")
async def root() -> Response:
    return RedirectResponse("/app", status_code=307)


@router.get("/app")
async def home(request: Request, user: MaybeSignedIn) -> Response:
    if user is not None:
        return RedirectResponse("/app/games", status_code=303)
    return render(request, "welcome.html")


@router.post("/app/language")
async def switch_language(lang: Annotated[str, Form()], back: Annotated[str, Form()] = "/app") -> Response:
    """Keep the chosen language in a cookie and go back to the page the switch was on."""
    response = RedirectResponse(safe_next(back), status_code=303)
    if lang in i18n.LANGUAGES:
        response.set_cookie(i18n.LANG_COOKIE, lang, max_age=ONE_YEAR_S, samesite="lax", httponly=True)
    return response
