"""The simulator's ground truth: one row per event a simulated actor performed through the services, with
what it really was (``honest`` or the attack type), who did it and what the service answered (created by
migration 0210; ADR 0027)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Column, Index, Integer, String, Table

from earnloop.db.metadata import metadata

sim_labels = Table(
    "sim_labels",
    metadata,
    Column("run", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at_ns", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("label", String(40), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("event_ref", String(200), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("money_event", Boolean, nullable=False),
    CheckConstraint("outcome IN ('accepted', 'refused', 'duplicate')", name="outcome_known"),
    CheckConstraint("amount >= 0", name="amount_not_negative"),
    Index("ix_sim_labels_event_ref", "event_ref"),
)
