"""The interactions recorded by the earn paths, read for the model: game clicks and reached milestones
(``tracking``), merchant clicks and purchases (``affiliate``), oldest first. Read only: no service of
those domains lists every user's activity, so this module selects from their tables and writes nothing.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from earnloop.affiliate.models import affiliate_clicks, affiliate_conversions
from earnloop.recs.model import GAME, MERCHANT, Interaction, Item
from earnloop.tracking.models import tracking_clicks, tracking_conversions


def _game_clicks(conn: Connection) -> list[Interaction]:
    c = tracking_clicks.c
    rows = conn.execute(select(c.user_id, c.game_id, c.created_at_ns))
    return [Interaction(r.user_id, Item(GAME, r.game_id), r.created_at_ns, "click") for r in rows]


def _milestones(conn: Connection) -> list[Interaction]:
    """Accepted milestone postbacks, bound to their game through the click they echo."""
    t, c = tracking_conversions.c, tracking_clicks.c
    rows = conn.execute(
        select(c.user_id, c.game_id, t.created_at_ns)
        .join(tracking_clicks, c.click_id == t.click_id)
        .where(t.milestone_id.is_not(None))
    )
    return [Interaction(r.user_id, Item(GAME, r.game_id), r.created_at_ns, "milestone") for r in rows]


def _merchant_clicks(conn: Connection) -> list[Interaction]:
    c = affiliate_clicks.c
    rows = conn.execute(select(c.user_id, c.merchant_id, c.created_at_ns))
    return [Interaction(r.user_id, Item(MERCHANT, r.merchant_id), r.created_at_ns, "click") for r in rows]


def _purchases(conn: Connection) -> list[Interaction]:
    c = affiliate_conversions.c
    rows = conn.execute(select(c.user_id, c.merchant_id, c.event_at_ns))
    return [Interaction(r.user_id, Item(MERCHANT, r.merchant_id), r.event_at_ns, "purchase") for r in rows]


def from_database(conn: Connection) -> list[Interaction]:
    """Every user's interactions, oldest first (ties: user, item, action)."""
    found = _game_clicks(conn) + _milestones(conn) + _merchant_clicks(conn) + _purchases(conn)
    found.sort(key=lambda e: (e.at_ns, e.user_id, e.item, e.action))
    return found
