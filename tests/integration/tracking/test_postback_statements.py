"""The SQL budget of the signed-postback hot path, on SQLite and PostgreSQL: an accepted game postback
(with a campaign bonus) and its duplicate run a fixed, small number of statements — each one costs more
in SQLAlchemy than in the database, and they all run under the writers' lock (``earnloop bench
postback``). A change that adds a statement to the path must raise the budget here, on purpose."""

from __future__ import annotations

import httpx

from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from tests.integration.sql_budget import statements
from tests.integration.tracking.support import World, click, event, postback

# Statements that go through SQLAlchemy's execution (not ``earnloop.db.driver``), BEGIN aside: each
# costs ~15 µs more than on the driver, about a tenth of the path at thirty statements.
SQLALCHEMY_BUDGET = 0
# Statements of one postback after the user's first (their wallet exists): the postback and its
# conversion, the earn path, the risk screening (the user's prior decisions, the decision, and each
# feature source in a savepoint: list membership, phone reputation), the base reward and one campaign
# bonus (each a pending ledger transfer).
ACCEPTED_BUDGET = 55
DUPLICATE_BUDGET = 4


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
