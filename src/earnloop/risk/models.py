"""The risk tables: the decision log (one row per screened event, append-only, written before any money
moves; created by migration 0070, extended by 0180) and the review queue (0180)."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, String, Table, Text

from earnloop.db.metadata import metadata
from earnloop.db.types import SERIAL_ID

risk_decisions = Table(
    "risk_decisions",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("event_ref", String(200), nullable=False, unique=True),
    Column("decision", String(16), nullable=False),
    Column("strategy_version", String(40), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False, server_default=""),
    Column("user_id", BigInteger, nullable=True),
    Column("amount", BigInteger, nullable=False, server_default="0"),
    Column("currency", String(3), nullable=False, server_default=""),
    Column("score", BigInteger, nullable=False, server_default="0"),
    Column("reasons", Text, nullable=False, server_default=""),  # reason codes, space-separated
    Column("latency_us", BigInteger, nullable=False, server_default="0"),
    # the point-in-time activation the live strategy saw, compact JSON (replayed by backtests, explain)
    Column("activation", Text, nullable=False, server_default="{}"),
    Column("shadow_decision", String(16), nullable=True),
    Column("shadow_version", String(40), nullable=True),
    Column("shadow_score", BigInteger, nullable=True),
    Column("shadow_reasons", Text, nullable=True),
    CheckConstraint("decision IN ('allow', 'review', 'deny')", name="decision_known"),
    Index("ix_risk_decisions_user", "user_id", "created_at_ns"),
)

# Events decided ``review``: their reward is held (the cashback release skips it) while ``open``.
risk_reviews = Table(
    "risk_reviews",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("event_ref", String(200), nullable=False, unique=True),
    Column("source", String(32), nullable=False),
    Column("reward_ref", String(200), nullable=False),
    Column("user_id", BigInteger, nullable=True),
    Column("status", String(16), nullable=False),
    Column("reasons", Text, nullable=False),
    Column("note", Text, nullable=True),
    Column("reviewer", String(120), nullable=True),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("decided_at_ns", BigInteger, nullable=True),
    CheckConstraint("status IN ('open', 'approved', 'rejected')", name="status_known"),
    Index("ix_risk_reviews_held", "status", "source", "reward_ref"),
)

# What the platform later learned about a screened event: its reward reversed or clawed back (refund,
# chargeback, provider reversal) or fraud confirmed by a reviewer. The labels a backtest scores a
# strategy against; one row per (event, kind), written by the flows that learn it.
risk_outcomes = Table(
    "risk_outcomes",
    metadata,
    Column("event_ref", String(200), primary_key=True),
    Column("kind", String(24), primary_key=True),
    Column("amount", BigInteger, nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    CheckConstraint("kind IN ('reversed', 'clawed_back', 'confirmed_fraud')", name="outcome_kind_known"),
)
