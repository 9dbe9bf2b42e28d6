"""Affiliate tables: merchants' postback secrets, users' clicks on merchant links, conversions (one per
merchant order, with the cashback parts it pays), the dedup claims of conversion updates holding the
first reply, and every update request as received with its outcome."""

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
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from earnloop.db.metadata import metadata
from earnloop.db.types import SERIAL_ID
from earnloop.secretbox import DIGEST_LEN, SEALED

STATUSES = ("pending", "approved", "declined", "reversed")

# HMAC needs the plaintext secret (like tracking's provider secrets): stored sealed (ADR 0019), found by
# its digest. Never logged nor echoed.
affiliate_merchant_secrets = Table(
    "affiliate_merchant_secrets",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("merchant_id", BigInteger, ForeignKey("catalog_merchants.id"), nullable=False),
    Column("secret", String(500), nullable=False, info=SEALED),
    Column("secret_digest", String(DIGEST_LEN), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    UniqueConstraint("merchant_id", "secret_digest", name="uq_affiliate_merchant_secrets_merchant_digest"),
)

# A user's click on a merchant's tracking link: the partner echoes the click id back with the order.
affiliate_clicks = Table(
    "affiliate_clicks",
    metadata,
    Column("click_id", String(64), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("merchant_id", BigInteger, ForeignKey("catalog_merchants.id"), nullable=False),
    Column("device", String(16), nullable=False),
    Column("user_agent", String(500), nullable=False),
    Column("client_ip", String(64), nullable=False),
    Column("destination", String(2000), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Index("ix_affiliate_clicks_user", "user_id", "created_at_ns"),
)

# One row per (merchant, order): its current status and order amount, and what it pays the user.
affiliate_conversions = Table(
    "affiliate_conversions",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("merchant_id", BigInteger, ForeignKey("catalog_merchants.id"), nullable=False),
    Column("order_id", String(200), nullable=False),
    Column("click_id", String(64), ForeignKey("affiliate_clicks.click_id"), nullable=False),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("category", String(32), nullable=True),
    Column("status", String(16), nullable=False),
    Column("first_amount", BigInteger, nullable=False),
    Column("order_amount", BigInteger, nullable=False),
    Column("reward_ref", String(200), nullable=False, unique=True),
    Column("event_at_ns", BigInteger, nullable=False),
    Column("release_at_ns", BigInteger, nullable=False),
    Column("risk_decision", String(16), nullable=False),
    Column("risk_strategy_version", String(40), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    UniqueConstraint("merchant_id", "order_id", name="uq_affiliate_conversions_merchant_order"),
    CheckConstraint(f"status IN {STATUSES!r}", name="status_known"),
    CheckConstraint("order_amount >= 0 AND order_amount <= first_amount", name="amount_shrinks"),
    Index("ix_affiliate_conversions_user", "user_id", "created_at_ns"),
)

# The cashback entries (source ``shopping``) a conversion created: the base and one per campaign bonus,
# with the amount first credited (partial refunds scale it; the entry holds the current amount).
affiliate_reward_parts = Table(
    "affiliate_reward_parts",
    metadata,
    Column("conversion_id", BigInteger, ForeignKey("affiliate_conversions.id"), nullable=False),
    Column("part", String(32), nullable=False),  # "base" | "bonus:<campaign id>"
    Column("ref", String(200), nullable=False, unique=True),
    Column("first_amount", BigInteger, nullable=False),
    PrimaryKeyConstraint("conversion_id", "part", name="pk_affiliate_reward_parts"),
    CheckConstraint("first_amount > 0", name="amount_positive"),
)

# One row per applied (merchant, order, status, amount): the dedup claim and the first reply, verbatim.
affiliate_updates = Table(
    "affiliate_updates",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("merchant_id", BigInteger, nullable=False),
    Column("order_id", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("order_amount", BigInteger, nullable=False),
    Column("reply_status", Integer, nullable=False),
    Column("reply_content_type", String(100), nullable=False),
    Column("reply_body", LargeBinary, nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    UniqueConstraint(
        "merchant_id", "order_id", "status", "order_amount", name="uq_affiliate_updates_identity"
    ),
)

# Every update as received — a postback (raw headers and body) or a report row — with its outcome.
affiliate_requests = Table(
    "affiliate_requests",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("merchant_id", BigInteger, nullable=False),  # no FK: unknown merchants are recorded too
    Column("channel", String(8), nullable=False),
    Column("row_number", Integer, nullable=True),
    Column("headers_json", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("client_ip", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reason_code", String(40), nullable=True),
    Column("order_id", String(200), nullable=True),
    Column("click_id", String(200), nullable=True),
    Column("status", String(16), nullable=True),
    Column("order_amount", BigInteger, nullable=True),
    Column("reply_status", Integer, nullable=False),
    Column("received_at_ns", BigInteger, nullable=False),
    CheckConstraint("channel IN ('postback', 'report')", name="channel_known"),
    CheckConstraint("outcome IN ('accepted', 'duplicate', 'rejected')", name="outcome_known"),
    Index("ix_affiliate_requests_order", "merchant_id", "order_id"),
    Index("ix_affiliate_requests_outcome", "outcome", "received_at_ns"),
)
