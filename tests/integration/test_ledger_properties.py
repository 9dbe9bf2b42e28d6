"""Stateful property test of the ledger on SQLite and PostgreSQL.

Hypothesis drives random batches (plain, pending with timeouts, post in full and in part, void, balancing,
closing transfers, linked chains, chains left open), clock advances that make pending transfers expire,
and re-sent earlier batches. A small reference model, written from docs/notes/tigerbeetle-semantics.md,
predicts every result ``(timestamp, status)`` and every balance. After each step the stored ledger must
satisfy every invariant (:mod:`tests.integration.ledger_invariants`) and agree with the model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import text

from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.results import TRANSIENT_TRANSFER_STATUSES, CreateAccountStatus, CreateTransferStatus
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import (
    AMOUNT_MAX,
    BATCH_MAX,
    NS_PER_S,
    STATUS_EXPIRED,
    STATUS_PENDING,
    STATUS_POSTED,
    STATUS_VOIDED,
    Account,
    AccountFlags,
    Transfer,
    TransferFlags,
)
from tests.conftest import DbTarget, reset_ledger
from tests.integration.ledger_invariants import check_ledger_invariants

S = CreateTransferStatus
F = TransferFlags
AF = AccountFlags

# (id, ledger, flags): two ledgers, every limit flag, some with history.
POOL = (
    (1, 1, AF.NONE),
    (2, 1, AF.DEBITS_MUST_NOT_EXCEED_CREDITS | AF.HISTORY),
    (3, 1, AF.DEBITS_MUST_NOT_EXCEED_CREDITS),
    (4, 1, AF.CREDITS_MUST_NOT_EXCEED_DEBITS),
    (5, 1, AF.HISTORY),
    (6, 1, AF.CREDITS_MUST_NOT_EXCEED_DEBITS | AF.HISTORY),
    (7, 2, AF.NONE),
    (8, 2, AF.DEBITS_MUST_NOT_EXCEED_CREDITS | AF.HISTORY),
    (9, 2, AF.CREDITS_MUST_NOT_EXCEED_DEBITS),
)
LEDGER_OF = {i: ledger for i, ledger, _ in POOL}
BY_LEDGER = {ledger: [i for i, lg, _ in POOL if lg == ledger] for ledger in (1, 2)}
UNKNOWN_PENDING_ID = 999_999


# -- reference model ----------------------------------------------------------------------------------
@dataclass
class MAccount:
    ledger: int
    flags: int
    dp: int = 0
    dpo: int = 0
    cp: int = 0
    cpo: int = 0


@dataclass(frozen=True)
class Stored:
    sent: Transfer
    dr: int
    cr: int
    amount: int
    timestamp: int


class Model:
    """TigerBeetle 0.17's create_transfers for the subset of events the machine generates."""

    def __init__(self) -> None:
        self.accounts: dict[int, MAccount] = {}
        self.transfers: dict[int, Stored] = {}
        self.pending: dict[int, tuple[int, int | None]] = {}  # id -> (status, expires_at)
        self.failed: set[int] = set()
        self.last = 0

    def reserve(self, now: int, count: int) -> int:
        first = max(now, self.last + count) - count + 1
        self.last = first + count - 1
        return first

    def create_accounts(self, now: int) -> None:
        first = self.reserve(now, len(POOL))
        assert first > 0
        for account_id, ledger, flags in POOL:
            self.accounts[account_id] = MAccount(ledger, int(flags))

    def expire_due(self, now: int) -> int:
        horizon = max(now, self.last + 1)
        due = sorted(
            (exp, pid)
            for pid, (status, exp) in self.pending.items()
            if status == STATUS_PENDING and exp is not None and exp <= horizon
        )[:BATCH_MAX]
        if not due:
            return 0
        self.reserve(now, len(due))
        for exp, pid in due:
            p = self.transfers[pid]
            self._release(p)
            self.pending[pid] = (STATUS_EXPIRED, exp)
        return len(due)

    def _release(self, p: Stored) -> None:
        dr, cr = self.accounts[p.dr], self.accounts[p.cr]
        dr.dp -= p.amount
        cr.cp -= p.amount
        if p.sent.flags & F.CLOSING_DEBIT:
            dr.flags &= ~AF.CLOSED
        if p.sent.flags & F.CLOSING_CREDIT:
            cr.flags &= ~AF.CLOSED

    def _save(self) -> tuple[dict[int, MAccount], dict[int, Stored], dict[int, tuple[int, int | None]]]:
        return ({k: replace(v) for k, v in self.accounts.items()}, dict(self.transfers), dict(self.pending))

    def create_transfers(self, events: list[Transfer], now: int) -> tuple[int, list[tuple[int, int]]]:
        """Returns (number expired by the pulse, expected results)."""
        expired = self.expire_due(now)
        first = self.reserve(now, len(events))
        results: list[tuple[int, int]] = []
        chain: int | None = None
        saved = self._save()
        broken = False
        for i, e in enumerate(events):
            ts = first + i
            linked = bool(e.flags & F.LINKED)
            if linked and chain is None:
                chain, saved, broken = i, self._save(), False
            if linked and i == len(events) - 1:
                status, rts = S.LINKED_EVENT_CHAIN_OPEN, ts
            elif broken:
                status, rts = S.LINKED_EVENT_FAILED, ts
            else:
                status, rts = self._create(e, ts)
            if status != S.CREATED:
                if chain is not None and not broken:
                    broken = True
                    self.accounts, self.transfers, self.pending = saved
                    for j in range(chain, i):
                        results[j] = (results[j][0], S.LINKED_EVENT_FAILED)
                if status in TRANSIENT_TRANSFER_STATUSES:
                    self.failed.add(e.id)
            results.append((rts, int(status)))
            if chain is not None and (not linked or status == S.LINKED_EVENT_CHAIN_OPEN):
                chain, broken = None, False
        return expired, results

    def _create(self, e: Transfer, ts: int) -> tuple[S, int]:
        known = self.transfers.get(e.id)
        if known is not None:
            assert known.sent == e, "the machine only re-uses an id to re-send the same event"
            return S.EXISTS, known.timestamp
        if e.id in self.failed:
            return S.ID_ALREADY_FAILED, ts
        if e.flags & (F.POST_PENDING_TRANSFER | F.VOID_PENDING_TRANSFER):
            return self._post_or_void(e, ts)
        dr, cr = self.accounts[e.debit_account_id], self.accounts[e.credit_account_id]
        if dr.ledger != cr.ledger:
            return S.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER, ts
        if dr.flags & AF.CLOSED:
            return S.DEBIT_ACCOUNT_ALREADY_CLOSED, ts
        if cr.flags & AF.CLOSED:
            return S.CREDIT_ACCOUNT_ALREADY_CLOSED, ts
        amount = e.amount
        if e.flags & F.BALANCING_DEBIT:
            amount = min(amount, max(0, dr.cpo - dr.dpo - dr.dp))
        if e.flags & F.BALANCING_CREDIT:
            amount = min(amount, max(0, cr.dpo - cr.cpo - cr.cp))
        if dr.flags & AF.DEBITS_MUST_NOT_EXCEED_CREDITS and dr.dp + dr.dpo + amount > dr.cpo:
            return S.EXCEEDS_CREDITS, ts
        if cr.flags & AF.CREDITS_MUST_NOT_EXCEED_DEBITS and cr.cp + cr.cpo + amount > cr.dpo:
            return S.EXCEEDS_DEBITS, ts
        self.transfers[e.id] = Stored(e, e.debit_account_id, e.credit_account_id, amount, ts)
        if e.flags & F.PENDING:
            dr.dp += amount
            cr.cp += amount
            self.pending[e.id] = (STATUS_PENDING, ts + e.timeout * NS_PER_S if e.timeout else None)
            if e.flags & F.CLOSING_DEBIT:
                dr.flags |= AF.CLOSED
            if e.flags & F.CLOSING_CREDIT:
                cr.flags |= AF.CLOSED
        else:
            dr.dpo += amount
            cr.cpo += amount
        return S.CREATED, ts

    def _post_or_void(self, e: Transfer, ts: int) -> tuple[S, int]:
        p = self.transfers.get(e.pending_id)
        if p is None:
            return S.PENDING_TRANSFER_NOT_FOUND, ts
        void = bool(e.flags & F.VOID_PENDING_TRANSFER)
        full = e.amount == (0 if void else AMOUNT_MAX)
        amount = p.amount if full else e.amount
        if amount > p.amount:
            return S.EXCEEDS_PENDING_TRANSFER_AMOUNT, ts
        if void and amount < p.amount:
            return S.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT, ts
        status, _ = self.pending[p.sent.id]
        if status == STATUS_POSTED:
            return S.PENDING_TRANSFER_ALREADY_POSTED, ts
        if status == STATUS_VOIDED:
            return S.PENDING_TRANSFER_ALREADY_VOIDED, ts
        if status == STATUS_EXPIRED:
            return S.PENDING_TRANSFER_EXPIRED, ts
        if p.sent.timeout and p.timestamp + p.sent.timeout * NS_PER_S <= ts:
            return S.PENDING_TRANSFER_EXPIRED, ts
        dr, cr = self.accounts[p.dr], self.accounts[p.cr]
        if not void and dr.flags & AF.CLOSED:
            return S.DEBIT_ACCOUNT_ALREADY_CLOSED, ts
        if not void and cr.flags & AF.CLOSED:
            return S.CREDIT_ACCOUNT_ALREADY_CLOSED, ts
        self.transfers[e.id] = Stored(e, p.dr, p.cr, amount, ts)
        if void:
            self._release(p)
            self.pending[p.sent.id] = (STATUS_VOIDED, None)
        else:
            dr.dp -= p.amount
            cr.cp -= p.amount
            dr.dpo += amount
            cr.cpo += amount
            self.pending[p.sent.id] = (STATUS_POSTED, None)
        return S.CREATED, ts


# -- the machine --------------------------------------------------------------------------------------
KINDS = (
    ["plain"] * 5
    + ["pending"] * 4
    + ["post_full"] * 2
    + ["post_partial"] * 2
    + ["void"] * 2
    + ["balancing_debit", "balancing_credit", "closing", "cross_ledger", "post_unknown"]
)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.clock = ManualClock()
        self.ledger = LedgerService(self.clock)
        self.model = Model()
        self.batches: list[list[Transfer]] = []
        self.next_id = 1000

    @initialize()
    def open_accounts(self) -> None:
        _clear_ledger(self.db)
        accounts = [Account(id=i, ledger=lg, code=10, flags=int(fl)) for i, lg, fl in POOL]
        with self.db.uow() as conn:
            results = self.ledger.create_accounts(conn, accounts)
        assert all(r.status == CreateAccountStatus.CREATED for r in results)
        self.model.create_accounts(self.clock.now_ns())

    # -- event generation ---------------------------------------------------------------------------
    def _fresh_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _pending_candidates(self, batch: list[Transfer]) -> list[tuple[int, int]]:
        """(id, amount) of pending transfers to post or void: stored ones and earlier ones in the batch."""
        stored = [(pid, self.model.transfers[pid].amount) for pid in self.model.pending]
        in_batch = [(t.id, t.amount) for t in batch if t.flags & F.PENDING]
        return stored + in_batch

    def _event(self, data: st.DataObject, batch: list[Transfer]) -> Transfer:
        kind = data.draw(st.sampled_from(KINDS))
        linked = F.LINKED if data.draw(st.integers(0, 3)) == 0 else F.NONE
        ledger = data.draw(st.sampled_from((1, 1, 1, 2)))
        dr, cr = data.draw(st.lists(st.sampled_from(BY_LEDGER[ledger]), min_size=2, max_size=2, unique=True))
        amount = data.draw(st.integers(0, 60))
        base = Transfer(id=self._fresh_id(), debit_account_id=dr, credit_account_id=cr, ledger=ledger, code=7)
        if kind == "plain":
            return replace(base, amount=amount, flags=linked)
        if kind == "cross_ledger":
            return replace(base, credit_account_id=BY_LEDGER[3 - ledger][0], amount=amount, flags=linked)
        if kind in ("pending", "closing"):
            timeout = data.draw(st.sampled_from((0, 0, 1, 2, 5)))
            flags = F.PENDING | linked
            if kind == "closing":
                flags |= data.draw(st.sampled_from((F.CLOSING_DEBIT, F.CLOSING_CREDIT)))
                amount = data.draw(st.integers(0, 5))
            return replace(base, amount=amount, flags=flags, timeout=timeout)
        if kind in ("balancing_debit", "balancing_credit"):
            flags = F.BALANCING_DEBIT if kind == "balancing_debit" else F.BALANCING_CREDIT
            if data.draw(st.booleans()):
                flags |= F.PENDING
            return replace(base, amount=data.draw(st.integers(0, 500)), flags=flags | linked)
        candidates = self._pending_candidates(batch)
        if kind == "post_unknown" or not candidates:
            pending_id, pending_amount = UNKNOWN_PENDING_ID, 0
        else:
            pending_id, pending_amount = data.draw(st.sampled_from(candidates))
        resolve = Transfer(id=base.id, pending_id=pending_id)
        if kind == "void":
            void_amount = data.draw(st.sampled_from((0, 0, 0, pending_amount, pending_amount + 1)))
            return replace(resolve, amount=void_amount, flags=F.VOID_PENDING_TRANSFER | linked)
        if kind == "post_partial":
            return replace(
                resolve, amount=data.draw(st.integers(0, 70)), flags=F.POST_PENDING_TRANSFER | linked
            )
        return replace(resolve, amount=AMOUNT_MAX, flags=F.POST_PENDING_TRANSFER | linked)

    def _submit(self, batch: list[Transfer]) -> tuple[int, list[tuple[int, int]]]:
        """Submit in one unit of work; returns (expired by the pulse, results), both checked."""
        expired, expected = self.model.create_transfers(batch, self.clock.now_ns())
        with self.db.uow() as conn:
            results = self.ledger.create_transfers(conn, batch)
        got = [(r.timestamp, int(r.status)) for r in results]
        assert got == expected, _explain(batch, got, expected)
        return expired, got

    # -- rules --------------------------------------------------------------------------------------
    @rule(data=st.data(), size=st.integers(1, 12))
    def submit_batch(self, data: st.DataObject, size: int) -> None:
        batch: list[Transfer] = []
        for _ in range(size):
            batch.append(self._event(data, batch))
        self._submit(batch)
        self.batches.append(batch)

    @rule(data=st.data())
    def fund(self, data: st.DataObject) -> None:
        """Credit limited accounts from unlimited ones so that spending can succeed."""
        batch = []
        for debit, credit, ledger in ((1, 2, 1), (1, 3, 1), (4, 5, 1), (6, 1, 1), (7, 8, 2), (9, 7, 2)):
            amount = data.draw(st.integers(0, 150))
            batch.append(Transfer(self._fresh_id(), debit, credit, amount, ledger=ledger, code=1))
        self._submit(batch)
        self.batches.append(batch)

    @rule(seconds=st.sampled_from((1, 1, 2, 3, 6)))
    def advance_clock(self, seconds: int) -> None:
        self.clock.advance(seconds=seconds)

    @rule()
    def sweep_expired(self) -> None:
        expected = self.model.expire_due(self.clock.now_ns())
        with self.db.uow() as conn:
            count = self.ledger.expire_pending_transfers(conn)
        assert count == expected

    @rule(data=st.data())
    def resend_earlier_batch(self, data: st.DataObject) -> None:
        if not self.batches:
            return
        batch = data.draw(st.sampled_from(self.batches))
        self.sweep_expired()
        before = check_ledger_invariants(self.db)
        expired_by_pulse, got = self._submit(batch)
        after = check_ledger_invariants(self.db)
        assert all(status != S.CREATED for _, status in got), "a re-sent batch created a transfer"
        assert after.transfer_count == before.transfer_count
        if expired_by_pulse == 0:
            assert after.accounts == before.accounts
            assert after.pending_status == before.pending_status

    # -- invariants ---------------------------------------------------------------------------------
    @invariant()
    def ledger_is_consistent_and_matches_model(self) -> None:
        snapshot = check_ledger_invariants(self.db)
        m = self.model
        expected_accounts = {i: (a.dp, a.dpo, a.cp, a.cpo, a.flags) for i, a in m.accounts.items()}
        assert snapshot.accounts == expected_accounts
        assert snapshot.transfer_count == len(m.transfers)
        assert snapshot.pending_status == {pid: status for pid, (status, _) in m.pending.items()}
        assert snapshot.failed_count == len(m.failed)
        assert snapshot.clock == m.last


LEDGER_TABLES = (
    "ledger_account_balances",
    "ledger_failed_ids",
    "ledger_pending_status",
    "ledger_transfers",
    "ledger_accounts",
)


def _clear_ledger(db: Database) -> None:
    """Per example: empty only the ledger tables (cheap; the test emptied every table once first)."""
    with db.uow() as conn:
        for table in LEDGER_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("UPDATE ledger_clock SET last_timestamp = 0"))


def _explain(batch: list[Transfer], got: list[tuple[int, int]], expected: list[tuple[int, int]]) -> str:
    lines = ["results differ from the model:"]
    for t, g, e in zip(batch, got, expected, strict=True):
        mark = "  " if g == e else "!!"
        lines.append(f"{mark} {t} got={S(g[1]).name}@{g[0]} model={S(e[1]).name}@{e[0]}")
    return "\n".join(lines)


@pytest.mark.slow
def test_ledger_state_machine(db_target: DbTarget) -> None:
    db = db_target.open()
    try:
        reset_ledger(db)
        run_state_machine_as_test(
            lambda: LedgerMachine(db),
            settings=settings(
                max_examples=80,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                # No shrinking: on these machines it can take minutes; the failing steps are printed anyway.
                phases=[Phase.explicit, Phase.generate],
            ),
        )
    finally:
        db.dispose()
