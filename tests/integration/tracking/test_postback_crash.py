"""Crash test for grouped postback commits (SQLite, ADR 0010): ``earnloop serve`` is killed with
SIGKILL while 8 clients send signed postbacks. Every postback answered 200 before the kill is stored
with its pending cashback and its ledger transfer, and nothing half-done is: each stored reward has
exactly one cashback entry, and the ledger's invariants hold."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import threading
from pathlib import Path

import httpx
from sqlalchemy import text

from earnloop.bench.live_server import free_port, wait_until_up
from earnloop.bench.postback import Send, populate_world, postback_sender
from earnloop.db.engine import Database, make_database
from earnloop.db.migrate import upgrade
from tests.conftest import EARNLOOP
from tests.integration.ledger_invariants import check_ledger_invariants

CLIENTS = 8
KILL_AFTER = 60  # postbacks answered 200


def test_every_postback_answered_before_a_sigkill_is_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    db = make_database(url, pool_size=2)
    upgrade(db)
    secret = secrets.token_urlsafe(32)
    bodies = populate_world(db, secret, 240, 1)  # 240 distinct postbacks, one per user (honest to risk)
    db.dispose()

    port = free_port()
    env = {**os.environ, "EARNLOOP_DATABASE_URL": url, "EARNLOOP_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [EARNLOOP, "serve", "--port", str(port)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, server)
        answered = _send_until_killed(base, server, postback_sender(secret, bodies), len(bodies))
    finally:
        server.kill()
        server.wait(timeout=30)

    assert len(answered) >= KILL_AFTER
    db = make_database(url, pool_size=1)
    try:
        stored = _stored_rewards(db)
        acknowledged = {json.loads(bodies[i])["transaction_id"] for i in answered}
        assert acknowledged <= set(stored), sorted(acknowledged - set(stored))[:5]
        assert all(entries == 1 for entries in stored.values()), stored
        check_ledger_invariants(db)
    finally:
        db.dispose()


def _send_until_killed(base: str, server: subprocess.Popen[bytes], send: Send, count: int) -> list[int]:
    """Send postbacks from ``CLIENTS`` threads; SIGKILL the server once ``KILL_AFTER`` were answered
    200. Returns the indexes of the postbacks answered 200."""
    answered: list[int] = []
    lock = threading.Lock()
    next_index = iter(range(count))
    killed = threading.Event()

    def client_loop() -> None:
        with httpx.Client(base_url=base, timeout=10) as client:
            while not killed.is_set():
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                try:
                    response = send(client, index)
                except httpx.HTTPError:
                    return  # the server is gone
                if response.status_code == 200:
                    with lock:
                        answered.append(index)
                        if len(answered) >= KILL_AFTER and not killed.is_set():
                            os.kill(server.pid, signal.SIGKILL)
                            killed.set()

    threads = [threading.Thread(target=client_loop) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with lock:
        return list(answered)


def _stored_rewards(db: Database) -> dict[str, int]:
    """Transaction id → cashback entries backed by a ledger transfer, for every postback the database
    holds as accepted (no campaign here: one entry, the base reward, per accepted postback)."""
    with db.uow(write=False) as conn:
        rows = conn.execute(
            text(
                "SELECT c.transaction_id, COUNT(t.id) FROM tracking_conversions c"
                " LEFT JOIN cashback_entries e"
                "   ON e.source = 'game' AND e.ref = c.provider || ':' || c.transaction_id"
                " LEFT JOIN ledger_transfers t ON t.id = e.pending_transfer_id"
                " WHERE c.reply_status = 200 GROUP BY c.transaction_id"
            )
        )
        return {row[0]: int(row[1]) for row in rows}
