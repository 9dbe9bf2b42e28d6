"""Phone-number reputation tables (issue 15, ADR 0026; created by migration 0201).

``phone_reports``: one row per (number, reporter) — a reporter counts once per number; reporting again
updates the category. ``phone_numbers`` counts each number's distinct reporters, and ``phone_reporters``
counts each reporter's reports and how many of them another reporter corroborated; both are kept by
atomic increments in the reporting transaction, so a lookup right after a report sees it (no batch job).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
)

from earnloop.db.metadata import metadata
from earnloop.db.types import SERIAL_ID

NUMBER_CHARS_MAX = 20  # E.164: '+' and at most 15 digits
NOTE_CHARS_MAX = 500

phone_reports = Table(
    "phone_reports",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("number", String(NUMBER_CHARS_MAX), nullable=False),
    Column("reporter_kind", String(8), nullable=False),
    Column("reporter_id", BigInteger, nullable=False),
    Column("category", String(16), nullable=False),
    Column("note", String(NOTE_CHARS_MAX), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    CheckConstraint("reporter_kind IN ('user', 'partner')", name="reporter_kind_known"),
    Index("uq_phone_reports_number_reporter", "number", "reporter_kind", "reporter_id", unique=True),
    Index("ix_phone_reports_reporter", "reporter_kind", "reporter_id"),
)

phone_numbers = Table(
    "phone_numbers",
    metadata,
    Column("number", String(NUMBER_CHARS_MAX), primary_key=True),
    Column("reporters", Integer, nullable=False),
    Column("first_reported_at_ns", BigInteger, nullable=False),
)

phone_reporters = Table(
    "phone_reporters",
    metadata,
    Column("reporter_kind", String(8), nullable=False),
    Column("reporter_id", BigInteger, nullable=False),
    Column("reports", Integer, nullable=False),
    Column("corroborated", Integer, nullable=False),
    PrimaryKeyConstraint("reporter_kind", "reporter_id"),
)
