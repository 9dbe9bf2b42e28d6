"""The risk decision log: one row per screened money event, written before any money moves (created by
migration 0070 with the tracking tables)."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, String, Table

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
    CheckConstraint("decision IN ('allow', 'review', 'deny')", name="decision_known"),
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
