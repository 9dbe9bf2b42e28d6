"""FX tables: the rates table (exact decimals with the time they apply from) and the conversions made."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from earnloop.db.metadata import metadata
from earnloop.db.types import SERIAL_ID

# 1 unit (major) of ``base`` = ``rate`` units (major) of ``quote``, from ``valid_from_ns`` on (until a newer
# row for the pair applies). ``rate`` is an exact decimal string, never a float.
fx_rates = Table(
    "fx_rates",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("base", String(3), nullable=False),
    Column("quote", String(3), nullable=False),
    Column("rate", String(40), nullable=False),
    Column("spread_bps", Integer, nullable=False),
    Column("valid_from_ns", BigInteger, nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("actor", String(120), nullable=False),
    UniqueConstraint("base", "quote", "valid_from_ns", name="uq_fx_rates_pair_valid_from"),
    CheckConstraint("base <> quote", name="distinct_pair"),
    CheckConstraint("spread_bps >= 0 AND spread_bps <= 5000", name="spread_range"),
    Index("ix_fx_rates_pair", "base", "quote", "valid_from_ns"),
)

# One row per conversion a user made (what went out, what came in, at which rate and spread).
fx_conversions = Table(
    "fx_conversions",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("from_currency", String(3), nullable=False),
    Column("to_currency", String(3), nullable=False),
    Column("amount_from", BigInteger, nullable=False),
    Column("amount_to", BigInteger, nullable=False),
    Column("rate_id", BigInteger, ForeignKey("fx_rates.id"), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    UniqueConstraint("user_id", "idempotency_key", name="uq_fx_conversions_user_key"),
    CheckConstraint("amount_from > 0", name="amount_from_positive"),
    CheckConstraint("amount_to > 0", name="amount_to_positive"),
    Index("ix_fx_conversions_user", "user_id", "created_at_ns"),
)
