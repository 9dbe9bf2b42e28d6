"""Ledger tables. 128-bit ids are stored as 16-byte big-endian binaries (they sort like the integers);
u64 fields that may exceed 2**63-1 (``user_data_64``) are stored two's-complement in a signed BIGINT.
Balances and stored amounts never exceed 2**63-1 (see ADR 0002), so they are plain BIGINTs.

Database CHECK constraints repeat the account limits, so that no code path can overdraw an account.
On PostgreSQL the references of ``ledger_transfers`` to ``ledger_accounts`` are enforced by
statement-level triggers instead of the foreign keys declared here (migration 0140: the same rule,
checked once per statement instead of once per row); SQLite enforces the foreign keys.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Table,
)

from earnloop.db.metadata import metadata

ID = LargeBinary(16)

accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("ledger", BigInteger, nullable=False),
    Column("code", Integer, nullable=False),
    Column("user_data_128", ID, nullable=False),
    Column("user_data_64", BigInteger, nullable=False),
    Column("user_data_32", BigInteger, nullable=False),
    Column("flags", Integer, nullable=False),
    Column("debits_pending", BigInteger, nullable=False),
    Column("debits_posted", BigInteger, nullable=False),
    Column("credits_pending", BigInteger, nullable=False),
    Column("credits_posted", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False, unique=True),
    CheckConstraint(
        "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0",
        name="balances_non_negative",
    ),
    CheckConstraint(
        "(flags & 2) = 0 OR debits_pending + debits_posted <= credits_posted",
        name="debits_must_not_exceed_credits",
    ),
    CheckConstraint(
        "(flags & 4) = 0 OR credits_pending + credits_posted <= debits_posted",
        name="credits_must_not_exceed_debits",
    ),
)

transfers = Table(
    "ledger_transfers",
    metadata,
    Column("id", ID, primary_key=True),
    Column("debit_account_id", ID, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("credit_account_id", ID, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("pending_id", ID, nullable=True, unique=True),
    Column("user_data_128", ID, nullable=False),
    Column("user_data_64", BigInteger, nullable=False),
    Column("user_data_32", BigInteger, nullable=False),
    Column("timeout", BigInteger, nullable=False),
    Column("ledger", BigInteger, nullable=False),
    Column("code", Integer, nullable=False),
    Column("flags", Integer, nullable=False),
    Column("timestamp", BigInteger, nullable=False, unique=True),
    CheckConstraint("amount >= 0", name="amount_non_negative"),
    Index("ix_ledger_transfers_debit_ts", "debit_account_id", "timestamp"),
    Index("ix_ledger_transfers_credit_ts", "credit_account_id", "timestamp"),
)

# Status of every pending transfer: 1 pending, 2 posted, 3 voided, 4 expired.
pending_status = Table(
    "ledger_pending_status",
    metadata,
    Column("id", ID, ForeignKey("ledger_transfers.id"), primary_key=True),
    Column("status", SmallInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("timestamp", BigInteger, nullable=False),
    CheckConstraint("status BETWEEN 1 AND 4", name="status_known"),
    Index("ix_ledger_pending_status_expiry", "status", "expires_at"),
)

# Ids burnt by a transient failure: re-sending them answers ``id_already_failed``.
failed_ids = Table(
    "ledger_failed_ids",
    metadata,
    Column("id", ID, primary_key=True),
    Column("result", Integer, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)

# Balances after every transfer that touched an account with the ``history`` flag.
account_balances = Table(
    "ledger_account_balances",
    metadata,
    Column("account_id", ID, ForeignKey("ledger_accounts.id"), primary_key=True),
    Column("timestamp", BigInteger, primary_key=True),
    Column("debits_pending", BigInteger, nullable=False),
    Column("debits_posted", BigInteger, nullable=False),
    Column("credits_pending", BigInteger, nullable=False),
    Column("credits_posted", BigInteger, nullable=False),
)

# One row: the last timestamp handed out. Locking it serialises ledger writes, as in TigerBeetle.
clock = Table(
    "ledger_clock",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("last_timestamp", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)
