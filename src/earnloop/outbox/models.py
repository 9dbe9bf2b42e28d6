"""Outbox events (one row per state change a partner cares about) and their webhook delivery."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from earnloop.db.metadata import metadata
from earnloop.db.types import SERIAL_ID
from earnloop.secretbox import SEALED, SEALED_LEN

outbox_events = Table(
    "outbox_events",
    metadata,
    Column("seq", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("event_id", String(40), nullable=False, unique=True),
    Column("partner_id", BigInteger, nullable=True),
    Column("topic", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Index("ix_outbox_events_partner", "partner_id", "seq"),
)

# -- webhooks ----------------------------------------------------------------------------------------
# A partner's endpoint (one per partner). Events emitted while it is enabled (``active_since_ns`` is wall
# time, like ``outbox_events.created_at_ns``) are fanned out to it by the relay.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("partner_id", BigInteger, ForeignKey("partners.id"), nullable=False, unique=True),
    Column("url", String(2048), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("active_since_ns", BigInteger, nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
)

# Signing secrets: sealed (``earnloop.secretbox``: encrypted, signing needs them back); never logged,
# shown once. A secret is active while ``expires_at_ns`` is NULL or in the future; rotation keeps at
# most two active.
webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("partner_id", BigInteger, ForeignKey("partners.id"), nullable=False),
    Column("secret", String(SEALED_LEN), nullable=False, info=SEALED),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("expires_at_ns", BigInteger, nullable=True),
    Index("ix_webhook_secrets_partner", "partner_id", "id"),
)

DELIVERY_STATES = ("pending", "delivered", "dead")

# One row per (event, endpoint): the delivery's state machine pending → delivered | dead (replay: → pending).
# ``lease_token`` marks a claim by a worker; ``next_attempt_at_ns`` is pushed past the lease while it sends.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("event_seq", BigInteger, ForeignKey("outbox_events.seq"), nullable=False),
    Column("event_id", String(40), nullable=False),
    Column("partner_id", BigInteger, nullable=False),
    Column("endpoint_id", BigInteger, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at_ns", BigInteger, nullable=False),
    Column("lease_token", String(32), nullable=True),
    Column("last_attempt_at_ns", BigInteger, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(200), nullable=True),
    Column("delivered_at_ns", BigInteger, nullable=True),
    Column("replays", Integer, nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    UniqueConstraint("event_seq", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
    CheckConstraint("state IN ('pending', 'delivered', 'dead')", name="state"),
    CheckConstraint("attempts >= 0", name="attempts"),
    Index("ix_webhook_deliveries_due", "state", "next_attempt_at_ns"),
    Index("ix_webhook_deliveries_partner", "partner_id", "id"),
    Index("ix_webhook_deliveries_event", "event_id"),
)

# Every attempt, successful or not: HTTP status or transport error, and how long it took.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("delivery_id", BigInteger, ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("attempt_no", Integer, nullable=False),
    Column("at_ns", BigInteger, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", String(200), nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_webhook_attempts_delivery", "delivery_id", "id"),
)

# The relay's position in ``outbox_events`` (one row, id = 1): every event at or below ``last_seq`` has
# been fanned out. Locking this row serialises relays.
webhook_relay_cursor = Table(
    "webhook_relay_cursor",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", BigInteger, nullable=False),
)
