"""Outbox events (one row per state change a partner cares about)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from earnloop.auth.models import SERIAL_ID
from earnloop.db.metadata import metadata

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
