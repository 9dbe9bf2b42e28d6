"""Payment tables: merchant fee settings, orders (with their refunds) and one-time pay codes.

An order is known to users by its ``token`` (a random 128-bit id for the QR code and pay link; the serial
``id`` stays internal) and may name the one user allowed to see and pay it (``payer_user_id``).
An order moves ``awaiting_user`` → ``paid`` → ``partially_refunded`` → ``refunded`` (or ``expired``);
every change is one guarded UPDATE. The money is in the ledger; these rows say what it is for.
"""

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
from earnloop.secretbox import SEALED, SEALED_LEN

# Per-merchant payment settings; a merchant without a row pays the default fee.
merchant_pay_settings = Table(
    "merchant_pay_settings",
    metadata,
    Column("partner_id", BigInteger, ForeignKey("partners.id"), primary_key=True),
    Column("fee_bps", Integer, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    CheckConstraint("fee_bps >= 0 AND fee_bps <= 5000", name="fee_range"),
)

pay_orders = Table(
    "pay_orders",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),  # internal; never shown to users
    Column("token", String(40), nullable=False, unique=True),  # the id users see (QR, pay link): random
    Column("merchant_id", BigInteger, ForeignKey("partners.id"), nullable=False),
    Column("payer_user_id", BigInteger, ForeignKey("users.id"), nullable=True),  # only this user may pay
    Column("merchant_order_id", String(100), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("fee_bps", Integer, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("state", String(24), nullable=False),
    Column("source", String(8), nullable=False),  # "order" (merchant QR) or "code" (user pay code)
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=True),
    Column("pay_currency", String(3), nullable=True),  # the wallet the user paid from
    Column("pay_amount", BigInteger, nullable=True),  # debited from that wallet (≠ amount after FX)
    Column("fx_rate_id", BigInteger, ForeignKey("fx_rates.id"), nullable=True),
    Column("refunded", BigInteger, nullable=False),  # in the order currency
    Column("fee_refunded", BigInteger, nullable=False),
    Column("pay_refunded", BigInteger, nullable=False),  # in the pay currency
    Column("created_at_ns", BigInteger, nullable=False),
    Column("expires_at_ns", BigInteger, nullable=False),
    Column("paid_at_ns", BigInteger, nullable=True),
    Column("updated_at_ns", BigInteger, nullable=False),
    UniqueConstraint("merchant_id", "merchant_order_id", name="uq_pay_orders_merchant_order"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("fee >= 0 AND fee <= amount", name="fee_range"),
    CheckConstraint("refunded >= 0 AND refunded <= amount", name="refunded_range"),
    CheckConstraint("fee_refunded >= 0 AND fee_refunded <= fee", name="fee_refunded_range"),
    CheckConstraint(
        "pay_refunded >= 0 AND pay_refunded <= COALESCE(pay_amount, 0)", name="pay_refunded_range"
    ),
    CheckConstraint(
        "state IN ('awaiting_user', 'paid', 'partially_refunded', 'refunded', 'expired')",
        name="state_known",
    ),
    CheckConstraint("source IN ('order', 'code')", name="source_known"),
    Index("ix_pay_orders_due", "state", "expires_at_ns"),
    Index("ix_pay_orders_user", "user_id", "created_at_ns"),
)

pay_refunds = Table(
    "pay_refunds",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("order_id", BigInteger, ForeignKey("pay_orders.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),  # order currency, fee part included
    Column("fee_part", BigInteger, nullable=False),
    Column("pay_part", BigInteger, nullable=False),  # what reached the user, in the pay currency
    Column("reason", String(500), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("fee_part >= 0 AND fee_part <= amount", name="fee_part_range"),
    CheckConstraint("pay_part >= 0", name="pay_part_range"),
    Index("ix_pay_refunds_order", "order_id"),
)

# One-time codes a user shows at the till, found by the SHA-256 of the code. ``max_amount`` caps what a
# charge may take from the wallet (in the code's currency; null: no cap). The app keeps the code itself
# sealed (``code_sealed``, ADR 0019) to show it to its owner while it is active; cleared once used.
pay_codes = Table(
    "pay_codes",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("code_sha256", String(64), nullable=False, unique=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", String(8), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("expires_at_ns", BigInteger, nullable=False),
    Column("used_at_ns", BigInteger, nullable=True),
    Column("order_id", BigInteger, ForeignKey("pay_orders.id"), nullable=True),
    Column("max_amount", BigInteger, nullable=True),
    Column("code_sealed", String(SEALED_LEN), nullable=True, info=SEALED),
    CheckConstraint("state IN ('active', 'used')", name="state_known"),
    CheckConstraint("max_amount IS NULL OR max_amount > 0", name="max_amount_positive"),
    Index("ix_pay_codes_user", "user_id", "created_at_ns"),
)
