"""What the platform later learned about a screened event — its reward reversed or clawed back (a
refund, a chargeback, a provider's reversal) or fraud confirmed by a reviewer — kept as labels that
backtests score strategies against (issue 15).

Owns :func:`record_outcome`, called by the flows that learn an outcome (the cashback reversal in the
wallet, the review queue), once per (event, kind): repeating it is harmless.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import Connection

from earnloop.db.upsert import dialect_insert
from earnloop.risk.models import risk_outcomes

OutcomeKind = Literal["reversed", "clawed_back", "confirmed_fraud"]
BAD_OUTCOMES: tuple[OutcomeKind, ...] = ("reversed", "clawed_back", "confirmed_fraud")


def event_ref(source: str, ref: str) -> str:
    """The screened event's reference for a reward recorded as ``(source, ref)``."""
    return f"{source}:{ref}"


def record_outcome(conn: Connection, *, event_ref: str, kind: OutcomeKind, amount: int, at_ns: int) -> None:
    """Record that the event ``event_ref`` turned out ``kind`` (``amount`` in minor units of the reward)."""
    conn.execute(
        dialect_insert(conn, risk_outcomes)
        .values(event_ref=event_ref, kind=kind, amount=amount, created_at_ns=at_ns)
        .on_conflict_do_nothing()
    )
