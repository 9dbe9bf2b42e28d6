"""A user's game conversions as the app's progress page shows them: each accepted postback of the
user's clicks, with its game (the click's), milestone and the cashback reference its reward was paid
under (``games.reward_ref``). Reads only; the caller's connection, never a commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from earnloop.tracking.games import reward_ref
from earnloop.tracking.models import tracking_clicks as clicks
from earnloop.tracking.models import tracking_conversions as conversions

CONVERSIONS_MAX = 1_000


def conversions_of_user(
    conn: Connection, user_id: int, *, limit: int = CONVERSIONS_MAX
) -> list[dict[str, Any]]:
    """The user's accepted game conversions, newest first: ``provider``, ``transaction_id``, ``game_id``,
    ``milestone_id``, ``ref`` (the reward's cashback reference; a reversal's own conversion has no
    cashback under it) and ``created_at_ns``."""
    rows = conn.execute(
        select(
            conversions.c.provider,
            conversions.c.transaction_id,
            conversions.c.milestone_id,
            conversions.c.created_at_ns,
            clicks.c.game_id,
        )
        .join(clicks, clicks.c.click_id == conversions.c.click_id)
        .where(conversions.c.user_id == user_id, conversions.c.milestone_id.is_not(None))
        .order_by(conversions.c.id.desc())
        .limit(min(limit, CONVERSIONS_MAX))
    )
    return [
        {
            "provider": r.provider,
            "transaction_id": r.transaction_id,
            "game_id": int(r.game_id),
            "milestone_id": int(r.milestone_id),
            "ref": reward_ref(r.provider, r.transaction_id),
            "created_at_ns": int(r.created_at_ns),
        }
        for r in rows
    ]
