"""Escrow table: one row per guaranteed trade. The money itself is a pending ledger transfer; this row
says what it is for and which state the trade is in."""

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

ESCROW_STATES = ("WAIT_BUYER_PAY", "WAIT_SELLER_SEND", "WAIT_BUYER_CONFIRM", "TRADE_FINISHED", "TRADE_CLOSED")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# One row per guaranteed trade between a buyer (user) and a seller (merchant partner).
escrow_trades = Table(
    "escrow_trades",
    metadata,
    Column("trade_id", String(40), primary_key=True),
    Column("partner_id", BigInteger, ForeignKey("partners.id"), nullable=False),
    Column("trade_ref", String(200), nullable=False),
    Column("buyer_user_id", BigInteger, ForeignKey("users.id"), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("state", String(24), nullable=False),
    Column("hold_transfer_id", LargeBinary(16), nullable=True, unique=True),
    Column("pay_deadline_ns", BigInteger, nullable=False),
    Column("confirm_timeout_s", BigInteger, nullable=False),
    Column("confirm_deadline_ns", BigInteger, nullable=True),
    Column("close_reason", String(32), nullable=True),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    UniqueConstraint("partner_id", "trade_ref", name="uq_escrow_trades_partner_ref"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("confirm_timeout_s > 0", name="confirm_timeout_positive"),
    CheckConstraint(_in("state", ESCROW_STATES), name="state_known"),
    Index("ix_escrow_trades_state_pay", "state", "pay_deadline_ns"),
    Index("ix_escrow_trades_state_confirm", "state", "confirm_deadline_ns"),
    Index("ix_escrow_trades_buyer", "buyer_user_id", "created_at_ns"),
)
