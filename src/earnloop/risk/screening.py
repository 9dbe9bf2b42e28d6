"""Screening one money event: decide (pass-through for now) and record the decision in
``risk_decisions`` before the caller moves any money. Idempotent on the event reference."""

from __future__ import annotations

from sqlalchemy import Connection, select

from earnloop.db.upsert import dialect_insert
from earnloop.risk.models import risk_decisions

STRATEGY_VERSION = "passthrough-0"
ALLOW = "allow"


def screen(conn: Connection, *, event_ref: str, now_ns: int) -> str:
    """The decision for the event ``event_ref`` (``allow``, ``review`` or ``deny``), recorded once."""
    conn.execute(
        dialect_insert(conn, risk_decisions)
        .values(event_ref=event_ref, decision=ALLOW, strategy_version=STRATEGY_VERSION, created_at_ns=now_ns)
        .on_conflict_do_nothing()
    )
    return str(
        conn.execute(
            select(risk_decisions.c.decision).where(risk_decisions.c.event_ref == event_ref)
        ).scalar_one()
    )
