"""Credit-line tables: the line (its limit and cycle), its movements (the statement lines) and its
statements. The money itself is on the ledger (``wallet/chart.py``: CREDIT_LINE_DRAWN / _AVAILABLE)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)

from earnloop.db.metadata import metadata

MOVEMENT_KINDS = ("draw", "repay", "overdue", "limit")
STATEMENT_STATES = ("open", "paid", "carried", "overdue")

# One row per user and currency: the limit the credit domain set, and the current cycle.
credit_lines = Table(
    "credit_lines",
    metadata,
    Column("user_id", BigInteger, ForeignKey("users.id"), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("credit_limit", BigInteger, nullable=False),
    Column("line_debt", BigInteger, nullable=False),  # overdue amount moved to USER_DEBT, not repaid here
    Column("version", BigInteger, nullable=False),  # bumped by every change: ledger transfer ids
    Column("cycle_start_ns", BigInteger, nullable=False),
    Column("opened_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    CheckConstraint("credit_limit >= 0", name="limit_not_negative"),
    CheckConstraint("line_debt >= 0", name="line_debt_not_negative"),
)

# Every movement of a line: a statement's lines.
credit_line_movements = Table(
    "credit_line_movements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("merchant_id", BigInteger, nullable=True),
    Column("reference", String(200), nullable=True),
    Column("transfer_id", LargeBinary(16), nullable=True),
    Column("statement_id", Integer, nullable=True),
    Column("created_at_ns", BigInteger, nullable=False),
    CheckConstraint("amount >= 0 AND fee >= 0", name="amounts_not_negative"),
    CheckConstraint("kind IN ('draw', 'repay', 'overdue', 'limit')", name="kind_known"),
    Index("ix_credit_line_movements_line", "user_id", "currency", "created_at_ns"),
)

# A closed period: what is due, the minimum, by when, and how much of it was repaid.
credit_statements = Table(
    "credit_statements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("period_start_ns", BigInteger, nullable=False),
    Column("period_end_ns", BigInteger, nullable=False),
    Column("balance_due", BigInteger, nullable=False),
    Column("minimum_due", BigInteger, nullable=False),
    Column("due_at_ns", BigInteger, nullable=False),
    Column("repaid", BigInteger, nullable=False),
    Column("state", String(8), nullable=False),
    Column("paid_on_time", Boolean, nullable=True),
    Column("paid_at_ns", BigInteger, nullable=True),
    Column("closed_at_ns", BigInteger, nullable=False),
    UniqueConstraint("user_id", "currency", "period_start_ns", name="uq_credit_statements_period"),
    CheckConstraint("balance_due >= 0 AND minimum_due >= 0 AND repaid >= 0", name="amounts_not_negative"),
    CheckConstraint("state IN ('open', 'paid', 'carried', 'overdue')", name="state_known"),
    Index("ix_credit_statements_state_due", "state", "due_at_ns"),
)
