"""32 threads, then 32 processes, spend from the same few limited accounts at once (SQLite and PostgreSQL).

No overdraft, no lost update (final balances equal what the results each worker received add up to),
totals conserved per ledger, no exception (no deadlock, no serialization failure, no "database is
locked"), and every event either created or refused with ``exceeds_credits`` (its chain then failing as
a whole).
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections import defaultdict

import pytest

from earnloop.db.engine import Database, make_database
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.results import CreateAccountStatus, CreateTransferStatus
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import AMOUNT_MAX, TransferFlags
from tests.conftest import DbTarget, reset_ledger
from tests.integration.ledger_invariants import check_ledger_invariants
from tests.integration.ledger_workload import (
    FORKSERVER_PRELOAD,
    Sent,
    funding_transfers,
    pool_accounts,
    run_worker,
    run_worker_process,
)

S = CreateTransferStatus
F = TransferFlags
WORKERS = 32
BATCHES = 12

pytestmark = pytest.mark.slow


def _setup(db: Database) -> None:
    reset_ledger(db)
    ledger = LedgerService(SystemClock())
    with db.uow() as conn:
        assert all(
            r.status == CreateAccountStatus.CREATED for r in ledger.create_accounts(conn, pool_accounts())
        )
        assert all(r.status == S.CREATED for r in ledger.create_transfers(conn, funding_transfers()))


def _check(db: Database, sent: list[Sent]) -> None:
    """Every result is allowed, and the database holds exactly what the results add up to."""
    chains: dict[int, list[int]] = defaultdict(list)
    for s in sent:
        t = s.transfer
        if s.chain:
            chains[s.chain].append(s.status)
        elif t.flags & (F.POST_PENDING_TRANSFER | F.VOID_PENDING_TRANSFER) or t.code == 3:
            assert s.status == S.CREATED, f"{t} -> {S(s.status).name}"
        else:
            assert s.status in (S.CREATED, S.EXCEEDS_CREDITS), f"{t} -> {S(s.status).name}"
    for statuses in chains.values():
        if S.CREATED in statuses:
            assert set(statuses) == {S.CREATED}, f"chain partly applied: {statuses}"
        else:
            assert sorted(statuses).count(S.EXCEEDS_CREDITS) == 1, statuses
            assert set(statuses) == {S.EXCEEDS_CREDITS, S.LINKED_EVENT_FAILED}, statuses

    expected: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # dp, dpo, cp, cpo
    for t in funding_transfers():
        expected[t.debit_account_id][1] += t.amount
        expected[t.credit_account_id][3] += t.amount
    created = {s.transfer.id: s.transfer for s in sent if s.status == S.CREATED}
    for t in created.values():
        if t.flags & (F.POST_PENDING_TRANSFER | F.VOID_PENDING_TRANSFER):
            p = created[t.pending_id]
            dr, cr = expected[p.debit_account_id], expected[p.credit_account_id]
            dr[0] -= p.amount
            cr[2] -= p.amount
            if t.flags & F.POST_PENDING_TRANSFER:
                amount = p.amount if t.amount == AMOUNT_MAX else t.amount
                dr[1] += amount
                cr[3] += amount
        elif t.flags & F.PENDING:
            expected[t.debit_account_id][0] += t.amount
            expected[t.credit_account_id][2] += t.amount
        else:
            expected[t.debit_account_id][1] += t.amount
            expected[t.credit_account_id][3] += t.amount

    snapshot = check_ledger_invariants(db)  # overdrafts, conservation, balances = Σ transfers
    for account_id, balances in snapshot.accounts.items():
        assert list(balances[:4]) == expected[account_id], f"account {account_id}: lost or extra update"
    resolutions = sum(1 for t in created.values() if t.pending_id)
    assert snapshot.transfer_count == len(funding_transfers()) + len(created)
    assert sum(1 for s in snapshot.pending_status.values() if s in (2, 3)) == resolutions
    assert sum(1 for s in sent if s.status == S.EXCEEDS_CREDITS) > 0, "the workload never hit the limit"


def test_32_threads_share_limited_accounts(db_target: DbTarget) -> None:
    db = make_database(db_target.url, search_path=db_target.search_path, pool_size=WORKERS // 2)
    try:
        _setup(db)
        barrier = threading.Barrier(WORKERS)
        sent: list[Sent] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def work(index: int) -> None:
            try:
                barrier.wait(timeout=60)
                records = run_worker(db, index, BATCHES, seed=1)
            except BaseException as exc:  # surfaced below: any exception fails the test
                with lock:
                    errors.append(exc)
                return
            with lock:
                sent.extend(records)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
        assert not errors, f"{len(errors)} workers failed, first: {errors[0]!r}"
        _check(db, sent)
    finally:
        db.dispose()


def test_32_processes_share_limited_accounts(db_target: DbTarget) -> None:
    db = db_target.open()
    try:
        _setup(db)
        # forkserver: each worker is a fresh process (own interpreter state, own engine and connection)
        # forked from a server that imported the workload once, so 32 of them start in well under a second.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(FORKSERVER_PRELOAD)
        barrier = ctx.Barrier(WORKERS)
        out = ctx.Queue()
        procs = [
            ctx.Process(
                target=run_worker_process,
                args=(db_target.url, db_target.search_path, i, BATCHES, 2, barrier, out),
            )
            for i in range(WORKERS)
        ]
        for proc in procs:
            proc.start()
        sent: list[Sent] = []
        failures: list[str] = []
        try:
            for _ in range(WORKERS):
                _, records, error = out.get(timeout=120)
                if error:
                    failures.append(error)
                sent.extend(records)
        except queue.Empty:
            pytest.fail("a worker process never reported")
        for proc in procs:
            proc.join(timeout=30)
        assert not failures, f"{len(failures)} workers failed, first:\n{failures[0]}"
        assert all(proc.exitcode == 0 for proc in procs)
        _check(db, sent)
    finally:
        db.dispose()
