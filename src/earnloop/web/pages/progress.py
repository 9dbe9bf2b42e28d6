"""My progress: ``/app/progress`` — per game the user played, the milestones reached and each reward
as it stands: pending (with its release date), confirmed, or reversed and why. Read from the catalog
(milestones and the user's uses), the tracking service (the user's conversions) and the cashback
entries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from earnloop.api.context import run_read
from earnloop.catalog import service as catalog
from earnloop.tracking import service as tracking
from earnloop.wallet.cashback import service as cashback
from earnloop.web import rewards
from earnloop.web.session import SignedIn
from earnloop.web.templating import render

router = APIRouter()
SOURCE = "game"  # the game earn path's cashback source


def _rewards_by_game(conn: Connection, user_id: int, now_ns: int) -> dict[int, list[dict[str, Any]]]:
    """The user's game rewards by game id, newest first: each conversion (its milestone, when it was
    reached) with its ``reward``."""
    folded = rewards.fold(cashback.entries_of_user(conn, user_id, source=SOURCE))
    by_game: dict[int, list[dict[str, Any]]] = {}
    for conversion in tracking.conversions_of_user(conn, user_id):
        reward = folded.get(conversion["ref"])
        if reward is None:  # a reversal's own conversion: its effect shows on the reward it reversed
            continue
        reward = rewards.explained(conn, SOURCE, reward, rewards.GAME_REVERSED, now_ns)
        by_game.setdefault(conversion["game_id"], []).append({**conversion, "reward": reward})
    return by_game


def _progress(conn: Connection, user_id: int, now_ns: int) -> list[dict[str, Any]]:
    """The games the user reached a milestone in or earned from, in catalog order."""
    uses = catalog.uses_of_user(conn, user_id, "milestone")
    by_game = _rewards_by_game(conn, user_id, now_ns)
    sections = []
    for game in catalog.list_games(conn):
        milestones = {m["milestone_id"]: m for m in game["milestones"]}
        reached = [m for m in game["milestones"] if uses.get(m["milestone_id"], 0) > 0]
        earned = by_game.get(game["game_id"], [])
        if not reached and not earned:
            continue
        sections.append(
            {
                **game,
                "reached": reached,
                "total_milestones": len(game["milestones"]),
                "rewards": [{**line, "milestone": milestones.get(line["milestone_id"])} for line in earned],
            }
        )
    return sections


@router.get("/app/progress")
async def progress(request: Request, user: SignedIn) -> Response:
    now_ns = user.ctx.ledger.clock.now_ns()
    sections = await run_read(user.ctx, lambda conn: _progress(conn, user.user_id, now_ns))
    return render(request, "progress.html", {"nav": "progress", "games": sections})
