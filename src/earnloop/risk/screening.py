"""Screening one money event: decide (pass-through for now) and record the decision in
``risk_decisions`` before the caller moves any money. Idempotent on the event reference."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select, text

from earnloop.db import driver
from earnloop.risk.models import risk_decisions

STRATEGY_VERSION = "passthrough-0"
ALLOW = "allow"

# Built once, the same SQL on SQLite and PostgreSQL; run on the driver (every earn screens an event).
_RECORD = text(
    "INSERT INTO risk_decisions (event_ref, decision, strategy_version, created_at_ns)"
    " VALUES (:event_ref, :decision, :strategy_version, :created_at_ns)"
    " ON CONFLICT DO NOTHING RETURNING decision"
)
_RECORDED = select(risk_decisions.c.decision).where(risk_decisions.c.event_ref == bindparam("event_ref"))


def screen(conn: Connection, *, event_ref: str, now_ns: int) -> str:
    """The decision for the event ``event_ref`` (``allow``, ``review`` or ``deny``), recorded once."""
    params = {
        "event_ref": event_ref,
        "decision": ALLOW,
        "strategy_version": STRATEGY_VERSION,
        "created_at_ns": now_ns,
    }
    decision = driver.scalar(conn, _RECORD, params)
    if decision is None:  # screened before: the first decision stands
        decision = driver.scalar(conn, _RECORDED, {"event_ref": event_ref})
    return str(decision)
