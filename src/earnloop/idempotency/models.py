"""The idempotency record table: one row per (scope, key), holding the request fingerprint and the answer."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table, Text

from earnloop.db.metadata import metadata

idempotency_records = Table(
    "idempotency_records",
    metadata,
    Column("scope", String(120), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("response", Text, nullable=True),
    Column("created_at_ns", BigInteger, nullable=False),
)
