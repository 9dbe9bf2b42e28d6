"""The allow/block list tables and the registry of partners whose signed list feeds we import (issue 15,
ADR 0026; created by migration 0200).

An entry is never deleted: removing it (or a newer feed from the same partner) stamps ``removed_at_ns``,
so that a lookup as of any past moment — a backtest's replay — sees the lists as they were then. At most
one active entry per (list, key, value, source): a partial unique index.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, String, Table, text

from earnloop.db.metadata import metadata
from earnloop.db.types import SERIAL_ID

VALUE_CHARS_MAX = 200
REASON_CHARS_MAX = 500
SOURCE_CHARS_MAX = 80
ACTOR_CHARS_MAX = 120
PARTNER_NAME_CHARS_MAX = 64

risk_list_entries = Table(
    "risk_list_entries",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("list", String(8), nullable=False),
    Column("key", String(16), nullable=False),
    Column("value", String(VALUE_CHARS_MAX), nullable=False),
    Column("source", String(SOURCE_CHARS_MAX), nullable=False),
    Column("reason", String(REASON_CHARS_MAX), nullable=False),
    Column("added_by", String(ACTOR_CHARS_MAX), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("expires_at_ns", BigInteger, nullable=True),
    Column("removed_at_ns", BigInteger, nullable=True),
    Column("removed_by", String(ACTOR_CHARS_MAX), nullable=True),
    CheckConstraint("list IN ('allow', 'block')", name="list_known"),
    Index("ix_risk_list_entries_key_value", "key", "value"),
    Index("ix_risk_list_entries_source", "source"),
    Index(
        "uq_risk_list_entries_active",
        "list",
        "key",
        "value",
        "source",
        unique=True,
        sqlite_where=text("removed_at_ns IS NULL"),
        postgresql_where=text("removed_at_ns IS NULL"),
    ),
)

risk_feed_partners = Table(
    "risk_feed_partners",
    metadata,
    Column("name", String(PARTNER_NAME_CHARS_MAX), primary_key=True),
    Column("public_key", String(64), nullable=False),
    Column("last_sequence", BigInteger, nullable=True),
    Column("last_signature", String(128), nullable=True),
    Column("last_imported_at_ns", BigInteger, nullable=True),
    Column("created_at_ns", BigInteger, nullable=False),
)
