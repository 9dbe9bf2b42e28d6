"""Wallet-core tables: the wallets opened (one per user and currency) and operators' adjustments. The money
itself lives in the ledger; these rows say what it is for. Each sub-domain keeps its own tables."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    LargeBinary,
    String,
    Table,
)

from earnloop.db.metadata import metadata
from earnloop.db.types import SERIAL_ID

wallets = Table(
    "wallets",
    metadata,
    Column("user_id", BigInteger, ForeignKey("users.id"), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("opened_at_ns", BigInteger, nullable=False),
)

# Manual adjustments by an operator, with the reason and who made them.
adjustments = Table(
    "wallet_adjustments",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("direction", String(6), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("transfer_id", LargeBinary(16), nullable=False, unique=True),
    Column("created_at_ns", BigInteger, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("direction IN ('credit', 'debit')", name="direction_known"),
)
