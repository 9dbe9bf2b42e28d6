"""TigerBeetle's ledger state machine, in memory, over the rows one batch touches.

The service loads every row a batch can read (accounts, transfers, pending statuses, burnt ids), this
module decides each event exactly as TigerBeetle 0.17 does (same checks, same order, same linked-chain
rollback) and records the effects; the service then writes them in a handful of batched statements.
No SQL here: the rules can be read, and tested, on their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from earnloop.ledger.results import (
    TRANSIENT_TRANSFER_STATUSES,
    CreateAccountResult,
    CreateAccountStatus,
    CreateTransferResult,
    CreateTransferStatus,
)
from earnloop.ledger.rules import (
    check_account,
    check_new_transfer,
    check_post_or_void,
    check_transfer_exists,
    check_transfer_header,
    pending_amount_to_apply,
)
from earnloop.ledger.types import (
    NS_PER_S,
    STATUS_EXPIRED,
    STATUS_PENDING,
    STATUS_POSTED,
    STATUS_VOIDED,
    Account,
    AccountBalance,
    AccountDelta,
    AccountFlags,
    PendingInfo,
    Transfer,
    TransferFlags,
)

S = CreateTransferStatus
_LINKED = int(TransferFlags.LINKED)
_PENDING = int(TransferFlags.PENDING)
_POST = int(TransferFlags.POST_PENDING_TRANSFER)
_VOID = int(TransferFlags.VOID_PENDING_TRANSFER)
_CLOSING_DEBIT = int(TransferFlags.CLOSING_DEBIT)
_CLOSING_CREDIT = int(TransferFlags.CLOSING_CREDIT)
_TRANSFER_STATUS = {int(s): s for s in CreateTransferStatus}
_ACCOUNT_STATUS = {int(s): s for s in CreateAccountStatus}
_CLOSED = int(AccountFlags.CLOSED)
_HISTORY = int(AccountFlags.HISTORY)


def _balances(a: Account) -> tuple[int, int, int, int, int]:
    return (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, a.flags)


@dataclass
class LedgerState:
    """Rows a batch may read, loaded up front, plus everything the batch changed."""

    accounts: dict[int, Account]
    transfers: dict[int, Transfer]
    pending: dict[int, PendingInfo]
    failed: dict[int, int]
    new_accounts: list[Account] = field(default_factory=list)
    new_transfers: list[Transfer] = field(default_factory=list)
    new_failed: list[tuple[int, int, int]] = field(default_factory=list)
    history: list[tuple[int, AccountBalance]] = field(default_factory=list)
    pending_changed: dict[int, int] = field(default_factory=dict)  # id → timestamp of the change
    originals: dict[int, tuple[int, int, int, int, int]] = field(default_factory=dict)
    _undo: list[tuple[Any, ...]] | None = None

    # -- chain savepoints ---------------------------------------------------------------------------
    def begin_chain(self) -> tuple[int, int, int]:
        self._undo = []
        return (len(self.new_accounts), len(self.new_transfers), len(self.history))

    def end_chain(self) -> None:
        self._undo = None

    def rollback_chain(self, savepoint: tuple[int, int, int]) -> None:
        undo = self._undo or []
        for entry in reversed(undo):
            kind = entry[0]
            if kind == "account":
                account, saved = entry[1], entry[2]
                (account.debits_pending, account.debits_posted, account.credits_pending) = saved[:3]
                account.credits_posted, account.flags = saved[3], saved[4]
            elif kind == "new_account":
                del self.accounts[entry[1]]
            elif kind == "new_transfer":
                del self.transfers[entry[1]]
            elif kind == "pending":
                pending_id, old_info, old_changed = entry[1], entry[2], entry[3]
                if old_info is None:
                    del self.pending[pending_id]
                else:
                    self.pending[pending_id] = old_info
                if old_changed is None:
                    self.pending_changed.pop(pending_id, None)
                else:
                    self.pending_changed[pending_id] = old_changed
        n_accounts, n_transfers, n_history = savepoint
        del self.new_accounts[n_accounts:]
        del self.new_transfers[n_transfers:]
        del self.history[n_history:]
        self._undo = None

    # -- mutations (all undoable) -------------------------------------------------------------------
    def touch(self, account: Account) -> None:
        """Call before changing an account's balances or flags."""
        if account.id not in self.originals:
            self.originals[account.id] = _balances(account)
        if self._undo is not None:
            self._undo.append(("account", account, _balances(account)))

    def add_account(self, account: Account) -> None:
        self.accounts[account.id] = account
        self.new_accounts.append(account)
        if self._undo is not None:
            self._undo.append(("new_account", account.id))

    def add_transfer(self, transfer: Transfer) -> None:
        self.transfers[transfer.id] = transfer
        self.new_transfers.append(transfer)
        if self._undo is not None:
            self._undo.append(("new_transfer", transfer.id))

    def set_pending(self, pending_id: int, info: PendingInfo, timestamp: int) -> None:
        if self._undo is not None:
            self._undo.append(
                ("pending", pending_id, self.pending.get(pending_id), self.pending_changed.get(pending_id))
            )
        self.pending[pending_id] = info
        self.pending_changed[pending_id] = timestamp

    def record_history(self, timestamp: int, *accounts: Account) -> None:
        for a in accounts:
            if a.flags & _HISTORY:
                balance = AccountBalance(
                    timestamp, a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted
                )
                self.history.append((a.id, balance))

    # -- results for the writer ---------------------------------------------------------------------
    def account_deltas(self) -> list[AccountDelta]:
        """Net change of every pre-existing account the batch touched (new accounts are inserted)."""
        new_ids = {a.id for a in self.new_accounts}
        deltas = []
        for account_id, (dp, dpo, cp, cpo, flags) in self.originals.items():
            if account_id in new_ids:
                continue
            a = self.accounts[account_id]
            delta = AccountDelta(
                account_id,
                a.debits_pending - dp,
                a.debits_posted - dpo,
                a.credits_pending - cp,
                a.credits_posted - cpo,
                bool(a.flags & _CLOSED),
            )
            if (
                delta.debits_pending
                or delta.debits_posted
                or delta.credits_pending
                or delta.credits_posted
                or (a.flags ^ flags) & _CLOSED
            ):
                deltas.append(delta)
        return deltas


def create_accounts(state: LedgerState, events: list[Account], first_ts: int) -> list[CreateAccountResult]:
    """Decide every account event; ``first_ts`` is the timestamp slot of event 0."""

    def apply(i: int, a: Account) -> tuple[CreateAccountStatus, int]:
        ts = first_ts + i
        existing = state.accounts.get(a.id) if a.id > 0 else None
        status = check_account(a, existing)
        if status is not None:
            return status, existing.timestamp if status == CreateAccountStatus.EXISTS and existing else ts
        state.add_account(
            Account(
                id=a.id,
                ledger=a.ledger,
                code=a.code,
                flags=a.flags,
                user_data_128=a.user_data_128,
                user_data_64=a.user_data_64,
                user_data_32=a.user_data_32,
                timestamp=ts,
            )
        )
        return CreateAccountStatus.CREATED, ts

    raw = _run_chains(state, events, first_ts, apply, CreateAccountStatus, burn=False)
    return [CreateAccountResult(ts, _ACCOUNT_STATUS[s]) for ts, s in raw]


def create_transfers(state: LedgerState, events: list[Transfer], first_ts: int) -> list[CreateTransferResult]:
    """Decide every transfer event; ``first_ts`` is the timestamp slot of event 0."""

    def apply(i: int, t: Transfer) -> tuple[CreateTransferStatus, int]:
        return _create_transfer(state, t, first_ts + i)

    raw = _run_chains(state, events, first_ts, apply, CreateTransferStatus, burn=True)
    return [CreateTransferResult(ts, _TRANSFER_STATUS[s]) for ts, s in raw]


def _run_chains(
    state: LedgerState, events: list[Any], first_ts: int, apply: Any, codes: Any, *, burn: bool
) -> list[tuple[int, int]]:
    """TigerBeetle's ``execute_create`` loop: linked chains are all-or-nothing."""
    results: list[tuple[int, int]] = []
    created, failed_code = codes.CREATED, codes.LINKED_EVENT_FAILED
    chain_start: int | None = None
    savepoint: tuple[int, int, int] | None = None
    broken = False
    last = len(events) - 1
    for i, e in enumerate(events):
        ts_event = first_ts + i
        linked = e.flags & _LINKED
        status: int
        if linked and chain_start is None:
            chain_start, savepoint, broken = i, state.begin_chain(), False
        if linked and i == last:
            status, ts = codes.LINKED_EVENT_CHAIN_OPEN, ts_event
        elif broken:
            status, ts = failed_code, ts_event
        elif e.timestamp != 0:
            status, ts = codes.TIMESTAMP_MUST_BE_ZERO, ts_event
        else:
            status, ts = apply(i, e)
        if status != created:
            if chain_start is not None and not broken:
                broken = True
                assert savepoint is not None
                state.rollback_chain(savepoint)
                for j in range(chain_start, i):
                    results[j] = (results[j][0], failed_code)
            if burn and status in TRANSIENT_TRANSFER_STATUSES:
                state.failed[e.id] = status
                state.new_failed.append((e.id, int(status), ts_event))
        results.append((ts, int(status)))
        if chain_start is not None and (not linked or status == codes.LINKED_EVENT_CHAIN_OPEN):
            if not broken:
                state.end_chain()
            chain_start, savepoint, broken = None, None, False
    return results


def _create_transfer(state: LedgerState, t: Transfer, ts: int) -> tuple[CreateTransferStatus, int]:
    status = check_transfer_header(t)
    if status is not None:
        return status, ts
    existing = state.transfers.get(t.id)
    if existing is not None:
        pending = state.transfers.get(t.pending_id) if t.pending_id else None
        status = check_transfer_exists(t, existing, pending)
        return status, (existing.timestamp if status == S.EXISTS else ts)
    if t.id in state.failed:
        return S.ID_ALREADY_FAILED, ts
    if t.flags & (_POST | _VOID):
        return _post_or_void(state, t, ts)
    status_or_amount = check_new_transfer(t, state.accounts, ts)
    if isinstance(status_or_amount, CreateTransferStatus):
        return status_or_amount, ts
    _apply_new_transfer(state, t, status_or_amount, ts)
    return S.CREATED, ts


def _apply_new_transfer(state: LedgerState, t: Transfer, amount: int, ts: int) -> None:
    dr = state.accounts[t.debit_account_id]
    cr = state.accounts[t.credit_account_id]
    state.touch(dr)
    state.touch(cr)
    # Positional, in the field order of ``Transfer`` (id, debit/credit account, amount, ledger, code,
    # flags, pending_id, timeout, user_data_128/64/32, timestamp): ~2x faster than keywords, per event.
    stored = Transfer(
        t.id,
        t.debit_account_id,
        t.credit_account_id,
        amount,
        t.ledger,
        t.code,
        t.flags,
        0,
        t.timeout,
        t.user_data_128,
        t.user_data_64,
        t.user_data_32,
        ts,
    )
    state.add_transfer(stored)
    if t.flags & _PENDING:
        dr.debits_pending += amount
        cr.credits_pending += amount
        expires_at = ts + t.timeout * NS_PER_S if t.timeout else None
        state.set_pending(t.id, PendingInfo(STATUS_PENDING, expires_at), ts)
    else:
        dr.debits_posted += amount
        cr.credits_posted += amount
    if t.flags & _CLOSING_DEBIT:
        dr.flags |= _CLOSED
    if t.flags & _CLOSING_CREDIT:
        cr.flags |= _CLOSED
    state.record_history(ts, dr, cr)


def _post_or_void(state: LedgerState, t: Transfer, ts: int) -> tuple[CreateTransferStatus, int]:
    p = state.transfers.get(t.pending_id) if t.pending_id else None
    info = state.pending.get(t.pending_id) if p is not None else None
    status = check_post_or_void(t, p, info, state.accounts, ts)
    if status is not None:
        return status, ts
    assert p is not None
    amount = pending_amount_to_apply(t, p)
    dr = state.accounts[p.debit_account_id]
    cr = state.accounts[p.credit_account_id]
    state.touch(dr)
    state.touch(cr)
    state.add_transfer(
        Transfer(
            id=t.id,
            debit_account_id=p.debit_account_id,
            credit_account_id=p.credit_account_id,
            amount=amount,
            ledger=p.ledger,
            code=p.code,
            flags=t.flags,
            pending_id=t.pending_id,
            timeout=0,
            user_data_128=t.user_data_128 or p.user_data_128,
            user_data_64=t.user_data_64 or p.user_data_64,
            user_data_32=t.user_data_32 or p.user_data_32,
            timestamp=ts,
        )
    )
    dr.debits_pending -= p.amount
    cr.credits_pending -= p.amount
    if t.flags & _POST:
        dr.debits_posted += amount
        cr.credits_posted += amount
        state.set_pending(p.id, PendingInfo(STATUS_POSTED, None), ts)
    else:
        _reopen_if_closing(p, dr, cr)
        state.set_pending(p.id, PendingInfo(STATUS_VOIDED, None), ts)
    state.record_history(ts, dr, cr)
    return S.CREATED, ts


def _reopen_if_closing(p: Transfer, dr: Account, cr: Account) -> None:
    if p.flags & _CLOSING_DEBIT:
        dr.flags &= ~_CLOSED
    if p.flags & _CLOSING_CREDIT:
        cr.flags &= ~_CLOSED


def expire(state: LedgerState, pending_ids: list[int], first_ts: int) -> int:
    """Expire due pending transfers (TigerBeetle's pulse): release reservations, reopen closed
    accounts a closing transfer had closed. Each expiry takes one timestamp slot. Returns the count."""
    count = 0
    for i, pending_id in enumerate(pending_ids):
        p = state.transfers[pending_id]
        info = state.pending[pending_id]
        if info.status != STATUS_PENDING:
            continue
        ts = first_ts + i
        dr = state.accounts[p.debit_account_id]
        cr = state.accounts[p.credit_account_id]
        state.touch(dr)
        state.touch(cr)
        dr.debits_pending -= p.amount
        cr.credits_pending -= p.amount
        _reopen_if_closing(p, dr, cr)
        state.set_pending(pending_id, PendingInfo(STATUS_EXPIRED, info.expires_at), ts)
        state.record_history(ts, dr, cr)
        count += 1
    return count


__all__ = ["STATUS_VOIDED", "LedgerState", "create_accounts", "create_transfers", "expire"]
