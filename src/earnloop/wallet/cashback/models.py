"""Cashback table: one row per reward (pending → confirmed, or reversed / clawed back). The money itself
is the reward's pending ledger transfer; this row says what it is for and where it stands."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)

from earnloop.db.metadata import metadata
from earnloop.db.types import SERIAL_ID

# One row per cashback reward: pending until release_at, then confirmed; or reversed / clawed back.
cashback_entries = Table(
    "cashback_entries",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("source", String(32), nullable=False),
    Column("ref", String(200), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("funding_kind", BigInteger, nullable=False),
    Column("funding_owner", BigInteger, nullable=False),
    Column("pending_transfer_id", LargeBinary(16), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("release_at_ns", BigInteger, nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    Column("clawed_back", BigInteger, nullable=False, default=0),
    Column("debt_recorded", BigInteger, nullable=False, default=0),
    UniqueConstraint("source", "ref", name="uq_cashback_entries_source_ref"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("status IN ('pending', 'confirmed', 'reversed', 'clawed_back')", name="status_known"),
    Index("ix_cashback_entries_due", "status", "release_at_ns"),
    Index("ix_cashback_entries_user", "user_id", "created_at_ns"),
)
