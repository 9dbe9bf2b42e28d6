"""Crash test: a writer submitting batches of 2,000–8,190 transfers is killed with SIGKILL at random
points, at least 20 times per database, and restarted each time. The surviving database must satisfy
every invariant, every batch must be all-or-nothing, and re-sending a committed batch must change nothing.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from earnloop.db.engine import Database
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.results import CreateAccountStatus, CreateTransferStatus
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import enc128
from tests.conftest import DbTarget, reset_ledger
from tests.integration.ledger_crash_child import (
    ID_STRIDE,
    batch_base,
    crash_writer,
    make_batch,
    pool_accounts,
)
from tests.integration.ledger_invariants import check_ledger_invariants
from tests.integration.ledger_workload import FORKSERVER_PRELOAD

S = CreateTransferStatus
KILLS = 20
RESENT_BATCHES = 5


def _stored_in_batch(db: Database, run: int, number: int) -> int:
    base = batch_base(run, number)
    with db.uow(write=False) as conn:
        return int(
            conn.execute(
                text("SELECT COUNT(*) FROM ledger_transfers WHERE id >= :lo AND id < :hi"),
                {"lo": enc128(base), "hi": enc128(base + ID_STRIDE)},
            ).scalar_one()
        )


def _read_log(path: Path) -> tuple[set[tuple[int, int]], dict[tuple[int, int], int]]:
    started: set[tuple[int, int]] = set()
    done: dict[tuple[int, int], int] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "start":
            started.add((int(parts[1]), int(parts[2])))
        elif len(parts) == 4 and parts[0] == "done":
            done[(int(parts[1]), int(parts[2]))] = int(parts[3])
        # a torn last line (killed mid-write) is ignored
    return started, done


@pytest.mark.slow
def test_sigkill_during_large_batches_leaves_a_consistent_ledger(db_target: DbTarget, tmp_path: Path) -> None:
    db = db_target.open()
    try:
        reset_ledger(db)
        ledger = LedgerService(SystemClock())
        with db.uow() as conn:
            assert all(
                r.status == CreateAccountStatus.CREATED for r in ledger.create_accounts(conn, pool_accounts())
            )
        log = tmp_path / "writer.log"
        log.touch()
        rng = random.Random()
        # Each writer is a fresh process forked from a server that imported the writer once (a cold
        # interpreter start per kill would cost more than the test itself).
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(FORKSERVER_PRELOAD)
        kills = 0
        for run in range(1, KILLS + 1):
            proc = ctx.Process(
                target=crash_writer, args=(db_target.url, db_target.search_path, run, str(log))
            )
            proc.start()
            # Kill while batch 0, 1 or 2 is in flight, at a random moment of it (so some batches commit).
            target = f"start {run} {rng.choice((0, 0, 1, 1, 2))}"
            deadline = time.monotonic() + 60
            while target not in log.read_text():
                assert proc.is_alive(), f"writer {run} died on its own (exit code {proc.exitcode})"
                assert time.monotonic() < deadline, f"writer {run} never reached {target!r}"
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.6))
            assert proc.is_alive(), f"writer {run} died on its own (exit code {proc.exitcode})"
            assert proc.pid is not None
            os.kill(proc.pid, signal.SIGKILL)
            proc.join(timeout=30)
            assert proc.exitcode == -signal.SIGKILL
            kills += 1
        assert kills >= 20

        started, done = _read_log(log)
        assert len(done) >= KILLS // 2, "too few batches committed to test anything"
        # All-or-nothing: a batch logged as done holds exactly the transfers it reported created; a batch
        # cut short holds all of them or none (re-sending it below proves it was complete).
        committed = []
        for key in sorted(started):
            stored = _stored_in_batch(db, *key)
            if key in done:
                assert stored == done[key], f"batch {key}: {stored} stored, {done[key]} reported created"
                committed.append(key)
            elif stored:
                committed.append(key)

        # Let every timed-out pending transfer expire, so that re-sending is the only change.
        time.sleep(2.1)
        with db.uow() as conn:
            while ledger.expire_pending_transfers(conn):
                pass
        before = check_ledger_invariants(db)
        cut_short = [key for key in committed if key not in done]
        sample = set(cut_short) | set(rng.sample(committed, min(RESENT_BATCHES, len(committed))))
        for key in sorted(sample):
            with db.uow() as conn:
                results = ledger.create_transfers(conn, make_batch(*key))
            assert all(r.status != S.CREATED for r in results), f"re-sending batch {key} created transfers"
            assert any(r.status == S.EXISTS for r in results) or done.get(key) == 0
        after = check_ledger_invariants(db)
        assert after.accounts == before.accounts
        assert after.transfer_count == before.transfer_count
        assert after.pending_status == before.pending_status
    finally:
        db.dispose()
