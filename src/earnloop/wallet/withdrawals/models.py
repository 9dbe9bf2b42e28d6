"""Tables of withdrawals: payout destinations and withdrawals.

The money lives in the ledger; these rows say what it is for and where a payout stands.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
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
from earnloop.secretbox import SEALED, SEALED_LEN

# Where a user's withdrawals go. ``account_number`` is what the provider needs to pay: sealed
# (``earnloop.secretbox``), it never leaves the service (answers show ``account_masked``, the last
# four characters) and is never logged.
payout_destinations = Table(
    "payout_destinations",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("institution", String(64), nullable=False),
    Column("holder_name", String(120), nullable=False),
    Column("account_number", String(SEALED_LEN), nullable=False, info=SEALED),
    Column("account_masked", String(16), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    CheckConstraint("kind IN ('bank', 'ewallet')", name="kind_known"),
    Index("ix_payout_destinations_user", "user_id"),
)

# ``in_review``: risk screening held it for a review (money held, not submitted) until a reviewer
# approves (→ ``requested``) or rejects it (→ ``rejected``, the hold voided; migration 0230).
WITHDRAWAL_STATES = ("requested", "processing", "unknown", "paid", "failed", "in_review", "rejected")
OPEN_STATES = ("requested", "processing", "unknown")  # submitted (or about to be): the provider decides

# One row per withdrawal. ``request_id`` is fixed before the provider is called and identifies the
# payout at the provider (inquiries, callbacks); ``hold_transfer_id`` is the pending ledger transfer.
withdrawals = Table(
    "withdrawals",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("destination_id", BigInteger, ForeignKey("payout_destinations.id"), nullable=False),
    Column("request_id", String(40), nullable=False, unique=True),
    Column("hold_transfer_id", LargeBinary(16), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("provider_ref", String(80), nullable=True),
    Column("failure_reason", String(200), nullable=True),
    Column("inquiries", BigInteger, nullable=False, default=0),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint(f"state IN ({', '.join(repr(s) for s in WITHDRAWAL_STATES)})", name="state_known"),
    Index("ix_withdrawals_user_day", "user_id", "currency", "created_at_ns"),
    Index("ix_withdrawals_open", "state", "updated_at_ns"),
)
