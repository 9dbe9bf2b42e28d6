"""The dialect's own INSERT (PostgreSQL or SQLite), which knows ``ON CONFLICT`` — for claims and
upserts that must not fail when a concurrent writer got there first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def dialect_insert(conn: Connection, table: Table) -> Any:
    """``INSERT INTO table`` with ``on_conflict_do_nothing`` / ``on_conflict_do_update`` available."""
    return pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)
