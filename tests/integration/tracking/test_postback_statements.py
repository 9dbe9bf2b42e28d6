"""The SQL budget of the signed-postback hot path, on SQLite and PostgreSQL: an accepted game postback
(with a campaign bonus) and its duplicate run a fixed, small number of statements — each one costs more
in SQLAlchemy than in the database, and they all run under the writers' lock (``earnloop bench
postback``). A change that adds a statement to the path must raise the budget here, on purpose."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event as sa_event

from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from tests.integration.tracking.support import World, click, event, postback

# Statements that go through SQLAlchemy's execution (not ``earnloop.db.driver``), BEGIN aside: each
# costs ~15 µs more than on the driver, about a tenth of the path at thirty statements.
SQLALCHEMY_BUDGET = 0
# Statements of one postback after the user's first (their wallet exists): the postback and its
# conversion, the earn path, the base reward and one campaign bonus (each a pending ledger transfer).
ACCEPTED_BUDGET = 49
DUPLICATE_BUDGET = 4
_BEGINNING = ("BEGIN", "PRAGMA busy_timeout", "PRAGMA wal_autocheckpoint")  # per group, not per postback


@contextmanager
def statements(db: Database, event: str = "before_cursor_execute") -> Iterator[list[str]]:
    """The SQL statements the database receives inside the block, as sent (but SQLite's explicit
    ``BEGIN IMMEDIATE``, and when the event loop's group begins without waiting, the busy timeout and
    the autocheckpoint switched off and back on around its transaction: psycopg begins PostgreSQL's
    transaction implicitly). With ``before_execute``: only those SQLAlchemy executed itself."""
    sent: list[str] = []

    def record(statement: Any) -> None:
        if not str(statement).startswith(_BEGINNING):
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


def test_an_accepted_postback_and_its_duplicate_stay_within_budget(
    api: httpx.Client, world: World, db: Database, clock: ManualClock
) -> None:
    click_id = click(api, world)
    assert postback(api, clock, event("txn-1", click_id, "lv5")).status_code == 200  # opens the wallet
    clock.advance(seconds=60)
    with statements(db) as accepted, statements(db, "before_execute") as through_sqlalchemy:
        first = postback(api, clock, event("txn-2", click_id, "lv10"))
    with statements(db) as duplicate:
        again = postback(api, clock, event("txn-2", click_id, "lv10"))
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert len(accepted) <= ACCEPTED_BUDGET, "\n".join(accepted)
    assert len(duplicate) <= DUPLICATE_BUDGET, "\n".join(duplicate)
    assert len(through_sqlalchemy) <= SQLALCHEMY_BUDGET, "\n".join(through_sqlalchemy)
