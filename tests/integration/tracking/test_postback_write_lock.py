"""ADR 0014 over real HTTP, on SQLite: postbacks commit on the server's event loop only when the write
lock is free at once. While another process holds it (``earnloop worker``, the CLI), a postback waits
for it on the group committer's writer thread, and the server keeps answering everything else."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from tests.integration.sqlite_lock import write_lock_held_elsewhere
from tests.integration.tracking.support import World, click, event, money, postback


@pytest.mark.parametrize("db_target", ["sqlite"], indirect=True)
def test_a_postback_waits_out_another_processs_write_lock_without_stalling_the_server(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    click_id = click(api, world)
    with ThreadPoolExecutor(max_workers=1) as sender:
        with write_lock_held_elsewhere(db):
            waiting = sender.submit(postback, api, clock, event("txn-1", click_id, "lv5"))
            time.sleep(0.5)
            assert not waiting.done()  # it cannot commit while the lock is held
            for _ in range(5):  # meanwhile the event loop answers at once
                started = time.monotonic()
                assert api.get("/healthz").status_code == 200
                assert time.monotonic() - started < 0.5
            assert money(db, ledger, world.user_id) == (0, 0, 0)
        assert waiting.result(30).status_code == 200
    rows, pending, _available = money(db, ledger, world.user_id)
    assert (rows, pending) == (2, 200)  # lv5: 100, doubled by the campaign
