"""A first end-to-end check of the ledger on both databases: money moves and is conserved."""

from earnloop.db.engine import Database
from earnloop.ledger.results import CreateTransferStatus
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import Account, AccountFlags, Transfer


def test_transfer_moves_money_and_resend_changes_nothing(db: Database, ledger: LedgerService) -> None:
    with db.uow() as conn:
        ledger.create_accounts(
            conn,
            [Account(id=1, ledger=1, code=1), Account(id=2, ledger=1, code=1, flags=AccountFlags.HISTORY)],
        )
    transfer = Transfer(id=7, debit_account_id=1, credit_account_id=2, amount=250, ledger=1, code=1)
    with db.uow() as conn:
        first = ledger.create_transfers(conn, [transfer])
    with db.uow() as conn:
        again = ledger.create_transfers(conn, [transfer])
        accounts = ledger.lookup_accounts(conn, [1, 2])
    assert first[0].status == CreateTransferStatus.CREATED
    assert again[0].status == CreateTransferStatus.EXISTS
    assert again[0].timestamp == first[0].timestamp
    assert (accounts[0].debits_posted, accounts[1].credits_posted) == (250, 250)
