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
