"""Another process's SQLite writer, for the tests that check who waits for the write lock."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from earnloop.db.engine import Database


@contextmanager
def write_lock_held_elsewhere(db: Database) -> Iterator[None]:
    """Another process's writer, as SQLite sees it: a connection of its own inside ``BEGIN IMMEDIATE``,
    committed when the block ends."""
    other = sqlite3.connect(db.engine.url.database or "", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("COMMIT")
    finally:
        other.close()
