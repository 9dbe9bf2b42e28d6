"""Explore next (``/app/explore``): games and stores the user has not tried, recommended by what players
who tried the same went on to do and by expected reward (``earnloop.recs``), each with its reason."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_percent
from fastapi import APIRouter, Request
from starlette.responses import Response

from earnloop.api.context import run_read
from earnloop.recs import service as recs
from earnloop.web import i18n
from earnloop.web.session import SignedIn
from earnloop.web.templating import render

router = APIRouter()
SHOWN = 10


def rate_text(rate_bps: int, lang: str) -> str:
    """A cashback rate in basis points as the language writes a percentage (``5%``, ``2.5%``)."""
    share = Decimal(rate_bps) / Decimal(10_000)
    return format_percent(share, "#,##0.##%", locale=i18n.babel_locale(lang))


@router.get("/app/explore")
async def explore(request: Request, user: SignedIn) -> Response:
    found = await run_read(user.ctx, lambda conn: recs.recommend(conn, user.user_id, k=SHOWN))
    lang = i18n.negotiate(request)
    rates = {r.item_id: rate_text(r.rate_bps, lang) for r in found if r.rate_bps is not None}
    return render(request, "explore.html", {"nav": "explore", "recommendations": found, "rates": rates})
