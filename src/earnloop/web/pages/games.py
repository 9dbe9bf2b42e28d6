"""The game zone: ``/app/games`` (the catalog, the running "2x zone" campaigns first, each game's
milestones with their reward and what is left of the user's limits), ``/app/games/{id}`` (a game's
milestones, reached ones marked, each priced for the user as the earn path would) and the click-out
``POST /app/play/{id}``: the tracking service records the signed-in user's click — so the provider's
postback pays them — and the browser goes on to the store (``click_out``, which the shopping page's
click-out shares)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import RedirectResponse, Response

from earnloop.api.context import run_read, run_write
from earnloop.api.inbound import client_ip
from earnloop.api.types import Id
from earnloop.catalog import service as catalog
from earnloop.errors import DomainError
from earnloop.ledger.service import LedgerService
from earnloop.tracking import service as tracking
from earnloop.web import i18n, rewards
from earnloop.web.session import SignedIn, WebUser
from earnloop.web.templating import render

router = APIRouter()
# Records a click: (conn, user agent, client IP, now) -> the click, with the ``location`` to go to.
ClickRecorder = Callable[[Connection, str, str, int], dict[str, Any]]


def _running(campaigns: list[dict[str, Any]], key: str, kind: str) -> list[dict[str, Any]]:
    """The running campaigns that target the game (``kind`` = ``games``) or merchant, 2x zones first."""
    found = [c for c in campaigns if key in c[kind]]
    return sorted(found, key=lambda c: (not c["two_x_zone"], -c["multiplier_bps"]))


def campaign_views(
    campaigns: list[dict[str, Any]], key: str, kind: str, uses: dict[int, int], lang: str
) -> list[dict[str, Any]]:
    """What a card says of each running campaign: its multiplier, bonus, end and the user's uses left."""
    views = []
    for c in _running(campaigns, key, kind):
        cap = c["per_user_cap"]
        views.append(
            {
                **c,
                "times": rewards.times(c["multiplier_bps"], lang),
                "left": None if cap is None else max(cap - uses.get(c["campaign_id"], 0), 0),
            }
        )
    return views


def _milestone_views(game: dict[str, Any], uses: dict[int, int]) -> list[dict[str, Any]]:
    views = []
    for m in game["milestones"]:
        used = uses.get(m["milestone_id"], 0)
        views.append({**m, "used": used, "left": max(m["per_user_limit"] - used, 0)})
    return views


def _zone(conn: Connection, user_id: int, now_ns: int, lang: str) -> list[dict[str, Any]]:
    """The active games as cards, those in a running 2x zone first (each group in catalog order)."""
    campaigns = catalog.list_campaigns(conn, active_at_ns=now_ns)
    milestone_uses = catalog.uses_of_user(conn, user_id, "milestone")
    campaign_uses = catalog.uses_of_user(conn, user_id, "campaign")
    cards = []
    for game in catalog.list_games(conn, status="active"):
        running = campaign_views(campaigns, game["key"], "games", campaign_uses, lang)
        cards.append(
            {
                **game,
                "campaigns": running,
                "boosted": any(c["two_x_zone"] for c in running),
                "milestones": _milestone_views(game, milestone_uses),
            }
        )
    return sorted(cards, key=lambda card: not card["boosted"])


@router.get("/app/games")
async def games(request: Request, user: SignedIn) -> Response:
    lang, now_ns = i18n.negotiate(request), user.ctx.ledger.clock.now_ns()
    cards = await run_read(user.ctx, lambda conn: _zone(conn, user.user_id, now_ns, lang))
    return render(request, "games.html", {"nav": "games", "games": cards})


def _priced(
    conn: Connection, ledger: LedgerService, user_id: int, game_id: int, now_ns: int
) -> list[dict[str, Any]]:
    """The game's milestones for the user: how often reached, how many times left, and what the next
    one pays now (base + campaign bonuses after the user's caps and the budgets: the earn path's price)."""
    row = catalog.game_row(conn, game_id)
    views = []
    for m in catalog.milestones_with_uses(conn, game_id, user_id):
        left = max(int(m.per_user_limit) - int(m.used), 0)
        total = bonus = None
        if left:
            pricing = catalog.price_milestone(
                conn, ledger, user_id=user_id, at_ns=now_ns, game=row, milestone=m, used=int(m.used)
            )
            total, bonus = pricing.total, pricing.bonus_amount
        views.append(
            {
                "milestone_id": m.id,
                "title": m.title,
                "goal": m.goal,
                "within_days": m.within_days,
                "reward_amount": m.reward_amount,
                "per_user_limit": m.per_user_limit,
                "used": int(m.used),
                "left": left,
                "total": total,
                "bonus": bonus,
            }
        )
    return views


def _detail(
    conn: Connection, ledger: LedgerService, user_id: int, game_id: int, lang: str
) -> dict[str, Any] | None:
    game = catalog.get_game(conn, game_id)
    if game["status"] != "active":
        return None
    now_ns = ledger.clock.now_ns()
    campaigns = catalog.list_campaigns(conn, active_at_ns=now_ns)
    running = campaign_views(
        campaigns, game["key"], "games", catalog.uses_of_user(conn, user_id, "campaign"), lang
    )
    return {
        **game,
        "campaigns": running,
        "boosted": any(c["two_x_zone"] for c in running),
        "milestones": _priced(conn, ledger, user_id, game_id, now_ns),
    }


@router.get("/app/games/{game_id}")
async def game(request: Request, game_id: Id, user: SignedIn) -> Response:
    lang, ledger = i18n.negotiate(request), user.ctx.ledger
    try:
        found = await run_read(user.ctx, lambda conn: _detail(conn, ledger, user.user_id, game_id, lang))
    except DomainError:  # no such game
        found = None
    if found is None:
        return unavailable(request, "games", status_code=404)
    return render(request, "game.html", {"nav": "games", "game": found})


@router.post("/app/play/{game_id}")
async def play(request: Request, game_id: Id, user: SignedIn) -> Response:
    """Record the user's click on the game (the tracking service, as ``/go/{game}`` does for the API)
    and send the browser to the store with the click id."""
    ctx = user.ctx

    def record(conn: Connection, user_agent: str, address: str, now_ns: int) -> dict[str, Any]:
        return tracking.record_click(
            conn,
            user_id=user.user_id,
            game_id=game_id,
            user_agent=user_agent,
            client_ip=address,
            now_ns=now_ns,
            risk=ctx.risk,
        )

    return await click_out(request, user, "games", record)


async def click_out(request: Request, user: WebUser, nav: str, record: ClickRecorder) -> Response:
    """Record the signed-in user's click with ``record(conn, user_agent, client_ip, now_ns)`` and send the
    browser on to the click's ``location``; what the click names is not offered (a ``DomainError``):
    the ``unavailable`` page under ``nav``."""
    user_agent, address = request.headers.get("user-agent", ""), client_ip(request)
    clock = user.ctx.ledger.clock
    try:
        click = await run_write(user.ctx, lambda conn: record(conn, user_agent, address, clock.now_ns()))
    except DomainError as exc:  # no such game or store, or no link to it
        return unavailable(request, nav, status_code=exc.status)
    return RedirectResponse(click["location"], status_code=303, headers={"Cache-Control": "no-store"})


def unavailable(request: Request, nav: str, *, status_code: int) -> Response:
    """The page a click-out or a detail answers when what it names is not (or no longer) offered."""
    return render(request, "unavailable.html", {"nav": nav}, status_code=status_code)
