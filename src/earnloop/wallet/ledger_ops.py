"""Helpers every wallet flow uses to talk to the ledger: make sure chart accounts exist, submit
transfers and turn unexpected result codes into typed errors."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from earnloop.ledger.results import CreateAccountStatus, CreateTransferResult, CreateTransferStatus
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import Account, Transfer
from earnloop.wallet.chart import AccountRef
from earnloop.wallet.errors import InsufficientFundsError, LedgerRejectedError

_OK_ACCOUNT = {CreateAccountStatus.CREATED, CreateAccountStatus.EXISTS}
OK_TRANSFER = {CreateTransferStatus.CREATED, CreateTransferStatus.EXISTS}
_INSUFFICIENT = {CreateTransferStatus.EXCEEDS_CREDITS, CreateTransferStatus.EXCEEDS_DEBITS}


def ensure_accounts(conn: Connection, ledger: LedgerService, refs: Sequence[AccountRef]) -> None:
    """Create the chart accounts that do not exist yet (idempotent: ids are derived)."""
    wanted = {ref.id: ref for ref in refs}
    existing = {a.id for a in ledger.lookup_accounts(conn, list(wanted))}
    missing = [ref.to_account() for account_id, ref in wanted.items() if account_id not in existing]
    if not missing:
        return
    for account, result in zip(missing, ledger.create_accounts(conn, missing), strict=True):
        if result.status not in _OK_ACCOUNT:
            raise LedgerRejectedError(f"account {account.id}: {result.status.name.lower()}")


def submit(
    conn: Connection, ledger: LedgerService, transfers: Sequence[Transfer]
) -> list[CreateTransferResult]:
    """Create transfers; ``exists`` counts as success (a retry). Insufficient funds → 422; anything
    else unexpected → :class:`LedgerRejectedError`."""
    results = ledger.create_transfers(conn, transfers)
    for result in results:
        if result.status in OK_TRANSFER or result.status == CreateTransferStatus.LINKED_EVENT_FAILED:
            continue
        if result.status in _INSUFFICIENT:
            raise InsufficientFundsError("not enough available balance for this operation")
        raise LedgerRejectedError(result.status.name.lower())
    return results


def balance_of(conn: Connection, ledger: LedgerService, ref: AccountRef) -> Account | None:
    found = ledger.lookup_accounts(conn, [ref.id])
    return found[0] if found else None
