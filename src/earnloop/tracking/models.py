"""Tracking tables: provider secrets, game publishers' ``earnloop`` secrets, clicks, every inbound
postback as received, accepted conversions (the dedup record holding the first reply) and optional
per-game tracking links."""

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
    Text,
    UniqueConstraint,
)

from earnloop.db.metadata import metadata
from earnloop.db.types import SERIAL_ID
from earnloop.secretbox import DIGEST_LEN, SEALED

# game_id / milestone_id are catalog ids without foreign keys: the catalog migration is a sibling
# branch (no guaranteed order between them).

# HMAC needs the plaintext secret (unlike API keys, which are stored as digests), so it is stored sealed
# (``secretbox``, ADR 0019) and found by its digest (a sealed value differs each time). Never logged.
tracking_provider_secrets = Table(
    "tracking_provider_secrets",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("provider", String(40), nullable=False),
    Column("secret", String(500), nullable=False, info=SEALED),
    Column("secret_digest", String(DIGEST_LEN), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    UniqueConstraint("provider", "secret_digest", name="uq_tracking_provider_secrets_provider_digest"),
)

# The ``earnloop`` scheme's secrets, one set per game publisher (partner): a publisher signs postbacks
# for its own games only (ADR 0016). Two active = a rotation. Sealed like the providers'. Never logged.
tracking_partner_secrets = Table(
    "tracking_partner_secrets",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("partner_id", BigInteger, ForeignKey("partners.id"), nullable=False),
    Column("secret", String(500), nullable=False, info=SEALED),
    Column("secret_digest", String(DIGEST_LEN), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    UniqueConstraint("partner_id", "secret_digest", name="uq_tracking_partner_secrets_partner_digest"),
)

# A user's click on a game's link: the click id is what the provider echoes back in its postback.
tracking_clicks = Table(
    "tracking_clicks",
    metadata,
    Column("click_id", String(64), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("game_id", BigInteger, nullable=False),
    Column("user_agent", String(500), nullable=False),
    Column("device_id", String(128), nullable=True),  # the X-Device-Id header: a risk velocity key
    Column("client_ip", String(64), nullable=False),
    Column("destination", String(2000), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Index("ix_tracking_clicks_user", "user_id", "created_at_ns"),
)

# A template with ``{click_id}`` (e.g. an attribution link) used instead of the plain store URL.
tracking_game_links = Table(
    "tracking_game_links",
    metadata,
    Column("game_id", BigInteger, primary_key=True),
    Column("template", String(1000), nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
)

# Every postback exactly as received, with the outcome (accepted | duplicate | rejected + reason).
tracking_postbacks = Table(
    "tracking_postbacks",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("provider", String(40), nullable=False),
    Column("method", String(8), nullable=False),
    Column("path", String(500), nullable=False),
    Column("query_string", Text, nullable=False),
    Column("headers_json", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("client_ip", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reason_code", String(40), nullable=True),
    Column("transaction_id", String(200), nullable=True),
    Column("click_id", String(200), nullable=True),
    Column("event_key", String(200), nullable=True),
    Column("reported_amount", String(60), nullable=True),
    Column("reply_status", Integer, nullable=False),
    Column("received_at_ns", BigInteger, nullable=False),
    CheckConstraint("outcome IN ('accepted', 'duplicate', 'rejected')", name="outcome_known"),
    Index("ix_tracking_postbacks_txn", "provider", "transaction_id"),
    Index("ix_tracking_postbacks_outcome", "outcome", "received_at_ns"),
)

# One row per accepted (provider, transaction id): the dedup claim and the first reply, verbatim.
tracking_conversions = Table(
    "tracking_conversions",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("provider", String(40), nullable=False),
    Column("transaction_id", String(200), nullable=False),
    Column("click_id", String(64), nullable=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=True),
    Column("milestone_id", BigInteger, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("reply_status", Integer, nullable=False),
    Column("reply_content_type", String(100), nullable=False),
    Column("reply_body", LargeBinary, nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    UniqueConstraint("provider", "transaction_id", name="uq_tracking_conversions_provider_txn"),
    CheckConstraint("amount >= 0", name="amount_nonnegative"),
)
