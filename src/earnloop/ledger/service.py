"""The ledger's public API: create accounts and transfers in batches, expire pending transfers, query.

Every method takes the caller's connection (one unit of work = one transaction) so that other domains
can move money in the same transaction as their own rows. Writes take the ledger lock first
(:func:`~earnloop.ledger.repository.lock_clock`), load every row the batch can touch, let the state
machine decide, and write the effects in batched statements; the caller's commit makes them durable.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import Connection

from earnloop.ledger import queries
from earnloop.ledger import repository as repo
from earnloop.ledger.clock import Clock
from earnloop.ledger.errors import InvalidBatchError
from earnloop.ledger.results import CreateAccountResult, CreateTransferResult
from earnloop.ledger.state_machine import LedgerState, create_accounts, create_transfers, expire
from earnloop.ledger.types import (
    BATCH_MAX,
    FILTER_FLAGS_KNOWN,
    U128_MAX,
    Account,
    AccountBalance,
    AccountFilter,
    AccountFilterFlags,
    AccountFlags,
    Transfer,
    TransferFlags,
)
from earnloop.ledger.validation import validate_accounts, validate_transfers

TIMESTAMP_MAX = (1 << 63) - 1
# Events decided between two writes to the transfer stream (see ``repository.transfer_writer``).
DECIDE_CHUNK = 512
QUERY_LIMIT_MAX = BATCH_MAX


class LedgerService:
    """TigerBeetle-style ledger on the project database."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    # -- writes -------------------------------------------------------------------------------------
    def create_accounts(self, conn: Connection, accounts: Sequence[Account]) -> list[CreateAccountResult]:
        """One result per account, in order. Raises :class:`InvalidBatchError` on malformed input."""
        events = validate_accounts(accounts)
        if not events:
            return []
        last, _ = self._expire_due(conn, repo.lock_clock(conn))
        first_ts = self._reserve_timestamps(last, len(events))
        state = LedgerState(
            accounts=repo.load_accounts(conn, (a.id for a in events)),
            transfers={},
            pending={},
            failed={},
        )
        results = create_accounts(state, events, first_ts)
        repo.insert_accounts(conn, state.new_accounts)
        repo.advance_clock(conn, first_ts + len(events) - 1)
        return results

    def create_transfers(self, conn: Connection, transfers: Sequence[Transfer]) -> list[CreateTransferResult]:
        """One result per transfer, in order. Raises :class:`InvalidBatchError` on malformed input."""
        events = validate_transfers(transfers)
        if not events:
            return []
        last, _ = self._expire_due(conn, repo.lock_clock(conn))
        first_ts = self._reserve_timestamps(last, len(events))
        state = self._load_for_transfers(conn, events)
        results: list[CreateTransferResult] = []
        with repo.transfer_writer(conn, len(events)) as write:
            for start, end in chain_aligned_chunks(events, DECIDE_CHUNK):
                written = len(state.new_transfers)
                results += create_transfers(state, events[start:end], first_ts + start)
                write(state.new_transfers[written:])
        self._flush(conn, state)
        repo.advance_clock(conn, first_ts + len(events) - 1)
        return results

    def expire_pending_transfers(self, conn: Connection) -> int:
        """Expire up to one batch of due pending transfers (the worker's sweep). Returns the count."""
        _, count = self._expire_due(conn, repo.lock_clock(conn))
        return count

    def _reserve_timestamps(self, last: int, count: int) -> int:
        """First of ``count`` fresh, strictly increasing nanosecond timestamps."""
        top = max(self.clock.now_ns(), last + count)
        return top - count + 1

    def _expire_due(self, conn: Connection, last: int) -> tuple[int, int]:
        """Expire what is due by now (TigerBeetle's pulse, run before each write batch).
        Returns the last timestamp used (``last`` when none was) and how many expired."""
        now = max(self.clock.now_ns(), last + 1)
        due = repo.due_expiries(conn, now, BATCH_MAX)
        if not due:
            return last, 0
        transfers = repo.load_transfers(conn, due)
        account_ids = {t.debit_account_id for t in transfers.values()}
        account_ids |= {t.credit_account_id for t in transfers.values()}
        state = LedgerState(
            accounts=repo.load_accounts(conn, account_ids),
            transfers=transfers,
            pending=repo.load_pending(conn, due),
            failed={},
        )
        first_ts = self._reserve_timestamps(last, len(due))
        count = expire(state, due, first_ts)
        self._flush(conn, state)
        top = first_ts + len(due) - 1
        repo.advance_clock(conn, top)
        return top, count

    def _load_for_transfers(self, conn: Connection, events: list[Transfer]) -> LedgerState:
        ids = [t.id for t in events]
        pending_ids = {t.pending_id for t in events if t.pending_id}
        transfers = repo.load_transfers(conn, [*ids, *pending_ids])
        account_ids = {t.debit_account_id for t in events} | {t.credit_account_id for t in events}
        for pending_id in pending_ids:
            p = transfers.get(pending_id)
            if p is not None:
                account_ids.update((p.debit_account_id, p.credit_account_id))
        account_ids.discard(0)
        account_ids.discard(U128_MAX)
        return LedgerState(
            accounts=repo.load_accounts(conn, account_ids),
            transfers=transfers,
            pending=repo.load_pending(conn, pending_ids),
            failed=repo.load_failed(conn, ids),
        )

    @staticmethod
    def _flush(conn: Connection, state: LedgerState) -> None:
        """Write a decided batch's effects other than new transfers (``create_transfers`` streams
        those while it decides; an expiry creates none)."""
        new_ids = {t.id for t in state.new_transfers}
        inserts, finishes = [], []
        for pending_id, ts in state.pending_changed.items():
            info = state.pending[pending_id]
            if pending_id in new_ids:
                inserts.append((pending_id, info.status, info.expires_at, ts))
            else:
                finishes.append((pending_id, info.status, ts))
        repo.insert_pending(conn, inserts)
        repo.finish_pending(conn, finishes)
        repo.apply_account_deltas(conn, state.account_deltas())
        repo.insert_history(conn, state.history)
        repo.insert_failed(conn, state.new_failed)

    # -- reads --------------------------------------------------------------------------------------
    def lookup_accounts(self, conn: Connection, ids: Sequence[int]) -> list[Account]:
        """Accounts in request order; unknown ids are skipped (TigerBeetle)."""
        _check_lookup(ids)
        found = repo.load_accounts(conn, ids)
        return [found[i] for i in ids if i in found]

    def lookup_transfers(self, conn: Connection, ids: Sequence[int]) -> list[Transfer]:
        """Transfers in request order; unknown (and burnt) ids are skipped."""
        _check_lookup(ids)
        found = repo.load_transfers(conn, ids)
        return [found[i] for i in ids if i in found]

    def get_account_transfers(self, conn: Connection, f: AccountFilter) -> list[Transfer]:
        """Transfers of one account by timestamp; an invalid filter gives an empty list (TigerBeetle)."""
        if not filter_is_valid(f):
            return []
        return queries.account_transfers(conn, _capped(f))

    def get_account_balances(self, conn: Connection, f: AccountFilter) -> list[AccountBalance]:
        """Balances after each matching transfer; empty unless the account has the ``history`` flag."""
        if not filter_is_valid(f):
            return []
        account = repo.load_accounts(conn, [f.account_id]).get(f.account_id)
        if account is None or not account.flags & AccountFlags.HISTORY:
            return []
        return queries.account_balances(conn, _capped(f))

    def balance_as_of(self, conn: Connection, account_id: int, timestamp: int) -> AccountBalance | None:
        """The account's balances as they stood at ``timestamp`` (needs the ``history`` flag);
        ``None`` when the account is unknown, has no history, or did not exist yet."""
        account = repo.load_accounts(conn, [account_id]).get(account_id)
        if account is None or not account.flags & AccountFlags.HISTORY or timestamp < account.timestamp:
            return None
        found = queries.balance_at(conn, account_id, timestamp)
        return found or AccountBalance(account.timestamp, 0, 0, 0, 0)


def chain_aligned_chunks(events: Sequence[Transfer], size: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` slices of about ``size`` events that never split a linked chain, so that once a
    slice is decided nothing in it can be rolled back by a later one."""
    start = 0
    for i, event in enumerate(events):
        if i + 1 - start >= size and not event.flags & TransferFlags.LINKED:
            yield start, i + 1
            start = i + 1
    if start < len(events):
        yield start, len(events)


def filter_is_valid(f: AccountFilter) -> bool:
    """TigerBeetle's AccountFilter validity rule (an invalid filter is not an error: it matches nothing)."""
    return (
        0 < f.account_id < U128_MAX
        and (f.timestamp_min == 0 or 1 <= f.timestamp_min <= TIMESTAMP_MAX)
        and (f.timestamp_max == 0 or 1 <= f.timestamp_max <= TIMESTAMP_MAX)
        and (f.timestamp_max == 0 or f.timestamp_min <= f.timestamp_max)
        and f.limit != 0
        and bool(f.flags & (AccountFilterFlags.DEBITS | AccountFilterFlags.CREDITS))
        and not f.flags & ~FILTER_FLAGS_KNOWN
    )


def _capped(f: AccountFilter) -> AccountFilter:
    if f.limit <= QUERY_LIMIT_MAX:
        return f
    return AccountFilter(
        account_id=f.account_id,
        limit=QUERY_LIMIT_MAX,
        flags=f.flags,
        timestamp_min=f.timestamp_min,
        timestamp_max=f.timestamp_max,
        user_data_128=f.user_data_128,
        user_data_64=f.user_data_64,
        user_data_32=f.user_data_32,
        code=f.code,
    )


def _check_lookup(ids: Sequence[int]) -> None:
    if len(ids) > BATCH_MAX:
        raise InvalidBatchError(f"at most {BATCH_MAX} ids per lookup, got {len(ids)}")
    for index, value in enumerate(ids):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= U128_MAX:
            raise InvalidBatchError(f"ids[{index}]: must be an integer in [0, 2**128-1]")
