"""Counting the SQL statements a request sends, for the statement budgets of the hot paths (signed
postbacks, payments): each statement costs more in SQLAlchemy than in the database, and they all run
under SQLite's writers' lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event as sa_event

from earnloop.db.engine import Database

BEGINNING = ("BEGIN", "PRAGMA busy_timeout", "PRAGMA wal_autocheckpoint")  # per group, not per postback


@contextmanager
def statements(db: Database, event: str = "before_cursor_execute") -> Iterator[list[str]]:
    """The SQL statements the database receives inside the block, as sent (but SQLite's explicit
    ``BEGIN IMMEDIATE``, and when the event loop's group begins without waiting, the busy timeout and
    the autocheckpoint switched off and back on around its transaction: psycopg begins PostgreSQL's
    transaction implicitly). With ``before_execute``: only those SQLAlchemy executed itself."""
    sent: list[str] = []

    def record(statement: Any) -> None:
        if not str(statement).startswith(BEGINNING):
            sent.append(str(statement))

    def sent_to_cursor(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        record(statement)

    def executed(_conn: Any, statement: Any, *_: Any) -> None:
        record(statement)

    listener = sent_to_cursor if event == "before_cursor_execute" else executed
    sa_event.listen(db.engine, event, listener)
    try:
        yield sent
    finally:
        sa_event.remove(db.engine, event, listener)
