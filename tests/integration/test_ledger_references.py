"""Writing a batch's transfers. The database itself refuses a transfer row whose accounts do not
exist, and the deletion of an account that has transfers — on SQLite through foreign keys, on
PostgreSQL through the statement-level triggers of migration 0140 — whatever the insert path (one
row, or a ``COPY`` of a large batch).

The ledger never writes such rows (its state machine answers ``debit_account_not_found`` first); these
tests write below it, as a bug or a hand-written statement would, and check nothing is stored.
A large batch is decided in slices streamed into the insert; linked chains still hold across them.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from earnloop.db.engine import Database
from earnloop.ledger import models
from earnloop.ledger import repository as repo
from earnloop.ledger.results import CreateTransferStatus
from earnloop.ledger.service import DECIDE_CHUNK, LedgerService, chain_aligned_chunks
from earnloop.ledger.types import Account, Transfer, TransferFlags, dec128, enc128

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
            conn.execute(text(statement), {"id": enc128(1), "other": enc128(77)})

    with db.uow(write=False) as conn:
        ids = {dec128(r[0]) for r in conn.execute(select(models.accounts.c.id))}
    assert ids == {1, 2, 3}
    assert _transfer_count(db) == 1

    with db.uow() as conn:  # an account nobody references can still go (as with a foreign key)
        conn.execute(text("DELETE FROM ledger_accounts WHERE id = :id"), {"id": enc128(3)})
    with db.uow(write=False) as conn:
        assert conn.execute(select(func.count()).select_from(models.accounts)).scalar_one() == 2


def test_a_linked_chain_across_a_decision_slice_fails_as_a_whole(db: Database, ledger: LedgerService) -> None:
    """The service decides a large batch in slices (and streams each into the insert); a chain that
    runs over a slice boundary must still succeed or fail as a whole."""
    _accounts(db, ledger, [1, 2])
    size = DECIDE_CHUNK * 2 + 10
    chain = range(DECIDE_CHUNK - 3, DECIDE_CHUNK + 4)  # straddles the first slice boundary
    batch = [
        Transfer(
            id=i + 1,
            debit_account_id=1,
            credit_account_id=2,
            amount=1,
            ledger=1,
            code=1,
            flags=TransferFlags.LINKED if i in chain and i != chain[-1] else 0,
        )
        for i in range(size)
    ]
    batch[chain[-1]].debit_account_id = UNKNOWN_ACCOUNT  # the chain's last event fails

    with db.uow() as conn:
        results = ledger.create_transfers(conn, batch)

    statuses = [r.status for r in results]
    assert statuses[chain[-1]] == CreateTransferStatus.DEBIT_ACCOUNT_NOT_FOUND
    assert all(statuses[i] == CreateTransferStatus.LINKED_EVENT_FAILED for i in chain[:-1])
    outside = [s for i, s in enumerate(statuses) if i not in chain]
    assert outside == [CreateTransferStatus.CREATED] * (size - len(chain))
    assert _transfer_count(db) == size - len(chain)
    with db.uow(write=False) as conn:
        (account,) = ledger.lookup_accounts(conn, [1])
    assert account.debits_posted == size - len(chain)


@pytest.mark.parametrize(
    ("flags", "size", "expected"),
    [
        ([0] * 5, 2, [(0, 2), (2, 4), (4, 5)]),
        ([1, 1, 0, 0, 0], 2, [(0, 3), (3, 5)]),  # a slice ends only where a chain ends
        ([1, 1, 1, 1, 1], 2, [(0, 5)]),  # an open chain runs to the end of the batch
        ([], 2, []),
    ],
)
def test_decision_slices_never_split_a_chain(
    flags: list[int], size: int, expected: list[tuple[int, int]]
) -> None:
    events = [Transfer(id=i + 1, flags=f) for i, f in enumerate(flags)]
    assert list(chain_aligned_chunks(events, size)) == expected
