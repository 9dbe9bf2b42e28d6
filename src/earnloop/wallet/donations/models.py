"""Tables of donations: charity campaigns and donations. The money lives in the ledger (the charity's
``CHARITY`` account); these rows say what it is for and keep each campaign's progress."""

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
)

from earnloop.db.metadata import metadata
from earnloop.db.types import SERIAL_ID

# A charity's fundraising campaign (the charity is a partner of kind "charity"). ``raised`` and
# ``donations_count`` are counters kept in the donation's transaction, so progress is one row read.
charity_campaigns = Table(
    "charity_campaigns",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("charity_id", BigInteger, ForeignKey("partners.id"), nullable=False),
    Column("name", String(120), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("goal", BigInteger, nullable=False),
    Column("starts_at_ns", BigInteger, nullable=False),
    Column("ends_at_ns", BigInteger, nullable=False),
    Column("raised", BigInteger, nullable=False, default=0),
    Column("donations_count", BigInteger, nullable=False, default=0),
    Column("created_at_ns", BigInteger, nullable=False),
    CheckConstraint("goal > 0", name="goal_positive"),
    CheckConstraint("ends_at_ns > starts_at_ns", name="window_valid"),
    CheckConstraint("raised >= 0 AND donations_count >= 0", name="counters_non_negative"),
    Index("ix_charity_campaigns_charity", "charity_id"),
)

donations = Table(
    "donations",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("charity_id", BigInteger, ForeignKey("partners.id"), nullable=False),
    Column("campaign_id", BigInteger, ForeignKey("charity_campaigns.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("transfer_id", LargeBinary(16), nullable=False, unique=True),
    Column("created_at_ns", BigInteger, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    Index("ix_donations_charity", "charity_id", "currency", "id"),
    Index("ix_donations_user", "user_id", "created_at_ns"),
)
