"""The database itself refuses a transfer row whose accounts do not exist, and the deletion of an
account that has transfers — on SQLite through foreign keys, on PostgreSQL through the statement-level
triggers of migration 0140 — whatever the insert path (one row, or a ``COPY`` of a large batch).

The ledger never writes such rows (its state machine answers ``debit_account_not_found`` first); these
tests write below it, as a bug or a hand-written statement would, and check nothing is stored.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from earnloop.db.engine import Database
from earnloop.ledger import models
from earnloop.ledger import repository as repo
from earnloop.ledger.results import CreateTransferStatus
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import Account, Transfer

UNKNOWN_ACCOUNT = 999
REFUSED_ROW = r"(?i)foreign key|unknown ledger account"  # SQLite's message | the trigger's
REFUSED_CHANGE = r"(?i)foreign key|cannot be deleted|never changes"


def _accounts(db: Database, ledger: LedgerService, ids: list[int]) -> None:
    with db.uow() as conn:
        ledger.create_accounts(conn, [Account(id=i, ledger=1, code=1) for i in ids])


def _row(transfer_id: int, debit: int, credit: int) -> Transfer:
    return Transfer(
        id=transfer_id,
        debit_account_id=debit,
        credit_account_id=credit,
        amount=5,
        ledger=1,
        code=1,
        timestamp=10**18 + transfer_id,
    )


def _transfer_count(db: Database) -> int:
    with db.uow(write=False) as conn:
        return int(conn.execute(select(func.count()).select_from(models.transfers)).scalar_one())


@pytest.mark.parametrize("batch", [1, 200], ids=["one-row", "copy-batch"])
@pytest.mark.parametrize("side", ["debit", "credit"])
def test_a_transfer_row_with_an_unknown_account_is_refused(
    db: Database, ledger: LedgerService, batch: int, side: str
) -> None:
    _accounts(db, ledger, [1, 2])
    rows = [_row(i, 1, 2) for i in range(1, batch + 1)]
    bad = rows[-1]
    rows[-1] = _row(bad.id, UNKNOWN_ACCOUNT, 2) if side == "debit" else _row(bad.id, 1, UNKNOWN_ACCOUNT)

    with pytest.raises(DBAPIError, match=REFUSED_ROW), db.uow() as conn:
        repo.insert_transfers(conn, rows)

    assert _transfer_count(db) == 0


def test_an_account_with_transfers_cannot_be_deleted_or_renumbered(
    db: Database, ledger: LedgerService
) -> None:
    _accounts(db, ledger, [1, 2, 3])
    with db.uow() as conn:
        results = ledger.create_transfers(
            conn, [Transfer(id=1, debit_account_id=1, credit_account_id=2, amount=5, ledger=1, code=1)]
        )
    assert results[0].status == CreateTransferStatus.CREATED

    for statement in (
        "DELETE FROM ledger_accounts WHERE id = :id",
        "UPDATE ledger_accounts SET id = :other WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match=REFUSED_CHANGE), db.uow() as conn:
            conn.execute(text(statement), {"id": repo.enc128(1), "other": repo.enc128(77)})

    with db.uow(write=False) as conn:
        ids = {repo.dec128(r[0]) for r in conn.execute(select(models.accounts.c.id))}
    assert ids == {1, 2, 3}
    assert _transfer_count(db) == 1

    with db.uow() as conn:  # an account nobody references can still go (as with a foreign key)
        conn.execute(text("DELETE FROM ledger_accounts WHERE id = :id"), {"id": repo.enc128(3)})
    with db.uow(write=False) as conn:
        assert conn.execute(select(func.count()).select_from(models.accounts)).scalar_one() == 2
