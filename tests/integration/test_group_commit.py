"""The SQLite group committer: concurrent write requests share commits, each caller gets its own
result or its own exception, and a caller is answered only once its work is committed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import CancelledError, Future
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import IntegrityError

from earnloop.db.engine import Database, WriterBusyError, make_database
from earnloop.db.group_commit import CHECKPOINT_THREAD, WRITER_THREAD, GroupCommitter
from tests.conftest import DbTarget
from tests.integration.sqlite_lock import write_lock_held_elsewhere


@pytest.fixture
def sqlite_db(sqlite_target: DbTarget) -> Iterator[Database]:
    db = sqlite_target.open()
    with db.uow() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS gc_probe")
        conn.exec_driver_sql("DROP TABLE IF EXISTS gc_parent")
        conn.exec_driver_sql("CREATE TABLE gc_parent (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql(
            "CREATE TABLE gc_probe (id INTEGER PRIMARY KEY, parent INTEGER"
            " REFERENCES gc_parent(id) DEFERRABLE INITIALLY DEFERRED)"
        )
    yield db
    with db.uow() as conn:
        conn.exec_driver_sql("DROP TABLE gc_probe")
        conn.exec_driver_sql("DROP TABLE gc_parent")
    db.dispose()


def _insert(row_id: int, *, parent: int | None = None, fail: bool = False) -> Any:
    def work(conn: Connection) -> int:
        conn.execute(text("INSERT INTO gc_probe (id, parent) VALUES (:i, :p)"), {"i": row_id, "p": parent})
        if fail:
            raise RuntimeError(f"work {row_id} failed")
        return row_id * 10

    return work


def _stored(db: Database) -> set[int]:
    with db.uow(write=False) as conn:
        return {row[0] for row in conn.exec_driver_sql("SELECT id FROM gc_probe")}


def _held_group(committer: GroupCommitter) -> tuple[threading.Event, Future[Any]]:
    """Occupy the writer with a piece of work that waits, so that what is submitted next queues up."""
    release = threading.Event()
    started = threading.Event()

    def wait(_conn: Connection) -> None:
        started.set()
        release.wait(10)

    future = committer.submit(wait)
    assert started.wait(10)
    return release, future


def test_queued_work_shares_commits_and_every_caller_gets_its_result(sqlite_db: Database) -> None:
    committer = GroupCommitter(sqlite_db, max_group=16)
    commits: list[int] = []

    def count(_conn: Any) -> None:
        commits.append(1)

    event.listen(sqlite_db.engine, "commit", count)
    try:
        release, first = _held_group(committer)
        futures = [committer.submit(_insert(i)) for i in range(1, 40)]
        release.set()
        assert [f.result(10) for f in futures] == [i * 10 for i in range(1, 40)]
        first.result(10)
    finally:
        event.remove(sqlite_db.engine, "commit", count)
    assert _stored(sqlite_db) == set(range(1, 40))
    assert len(commits) <= 1 + 3  # the held one, then 39 pieces in groups of at most 16


def test_a_failing_piece_is_rolled_back_alone(sqlite_db: Database) -> None:
    committer = GroupCommitter(sqlite_db)
    release, _ = _held_group(committer)
    ok_before = committer.submit(_insert(1))
    failing = committer.submit(_insert(2, fail=True))
    ok_after = committer.submit(_insert(3))
    release.set()

    assert ok_before.result(10) == 10
    assert ok_after.result(10) == 30
    with pytest.raises(RuntimeError, match="work 2 failed"):
        failing.result(10)
    assert _stored(sqlite_db) == {1, 3}


def test_a_failed_commit_fails_the_whole_group_and_stores_nothing(sqlite_db: Database) -> None:
    committer = GroupCommitter(sqlite_db)
    release, _ = _held_group(committer)
    fine = committer.submit(_insert(1))
    dangling = committer.submit(_insert(2, parent=999))  # a deferred foreign key: COMMIT refuses it
    release.set()

    for future in (fine, dangling):
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            future.result(10)
    assert _stored(sqlite_db) == set()
    assert committer.submit(_insert(5)).result(10) == 50  # the writer carries on


def test_work_cancelled_before_it_starts_never_runs(sqlite_db: Database) -> None:
    committer = GroupCommitter(sqlite_db)
    release, _ = _held_group(committer)
    cancelled = committer.submit(_insert(1))
    assert cancelled.cancel()
    kept = committer.submit(_insert(2))
    release.set()

    assert kept.result(10) == 20
    with pytest.raises(CancelledError):
        cancelled.result(10)
    assert _stored(sqlite_db) == {2}


def test_the_writer_thread_leaves_when_idle_and_comes_back_for_new_work(sqlite_db: Database) -> None:
    committer = GroupCommitter(sqlite_db, idle_s=0.05)
    assert committer.submit(_insert(1)).result(10) == 10
    deadline = time.monotonic() + 5
    while any(t.name == WRITER_THREAD for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(t.name == WRITER_THREAD for t in threading.enumerate())
    assert committer.submit(_insert(2)).result(10) == 20
    assert _stored(sqlite_db) == {1, 2}


# -- from an event loop (GroupCommitter.run) ------------------------------------------------------------
def _on_thread(row_id: int, seen: dict[int, str]) -> Any:
    insert = _insert(row_id)

    def work(conn: Connection) -> int:
        seen[row_id] = threading.current_thread().name
        result: int = insert(conn)
        return result

    return work


def test_writes_reaching_the_loop_together_share_a_commit_on_the_loops_thread(sqlite_db: Database) -> None:
    committer = GroupCommitter(sqlite_db)
    commits: list[int] = []
    seen: dict[int, str] = {}

    def count(_conn: Any) -> None:
        commits.append(1)

    async def together() -> list[Any]:
        calls = [committer.run(_on_thread(i, seen)) for i in range(1, 6)]
        calls.append(committer.run(_insert(6, fail=True)))
        return await asyncio.gather(*calls, return_exceptions=True)

    event.listen(sqlite_db.engine, "commit", count)
    try:
        results = asyncio.run(together())
    finally:
        event.remove(sqlite_db.engine, "commit", count)
    assert results[:5] == [10, 20, 30, 40, 50]
    assert isinstance(results[5], RuntimeError)  # its savepoint rolled back, the others kept
    assert len(commits) == 1
    assert set(seen.values()) == {threading.current_thread().name}  # asyncio.run's loop: this thread
    assert _stored(sqlite_db) == {1, 2, 3, 4, 5}


def test_a_loop_never_waits_for_another_processs_writer(sqlite_db: Database) -> None:
    committer = GroupCommitter(sqlite_db)
    seen: dict[int, str] = {}

    async def write_while_locked() -> tuple[int, int]:
        ticks = 0
        with write_lock_held_elsewhere(sqlite_db):
            write = asyncio.ensure_future(committer.run(_on_thread(1, seen)))
            while ticks < 20:  # the loop keeps turning while the write waits for the lock
                await asyncio.sleep(0.01)
                ticks += 1
            assert not write.done()
        return await write, ticks

    result, ticks = asyncio.run(write_while_locked())
    assert (result, ticks) == (10, 20)
    assert seen[1] == WRITER_THREAD  # handed to the writer thread, which waited for the lock
    assert _stored(sqlite_db) == {1}


def test_a_loop_hands_its_group_over_while_a_writer_of_this_process_is_busy(sqlite_db: Database) -> None:
    committer = GroupCommitter(sqlite_db)
    seen: dict[int, str] = {}
    release, held = _held_group(committer)  # the writer thread holds the write lock

    async def write() -> list[Any]:
        calls = [asyncio.ensure_future(committer.run(_on_thread(i, seen))) for i in (1, 2)]
        await asyncio.sleep(0.05)
        release.set()
        return list(await asyncio.gather(*calls))

    assert asyncio.run(write()) == [10, 20]
    held.result(10)
    assert seen == {1: WRITER_THREAD, 2: WRITER_THREAD}
    assert _stored(sqlite_db) == {1, 2}


def test_a_write_cancelled_on_the_loop_before_its_group_runs_never_runs(sqlite_db: Database) -> None:
    committer = GroupCommitter(sqlite_db)

    async def cancel_one() -> int:
        cancelled = asyncio.ensure_future(committer.run(_insert(1)))
        kept = asyncio.ensure_future(committer.run(_insert(2)))
        await asyncio.sleep(0)  # both reach the committer and wait for their group
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        return await kept

    assert asyncio.run(cancel_one()) == 20
    assert _stored(sqlite_db) == {2}


def test_a_unit_of_work_that_may_not_wait_is_refused_at_once_and_keeps_the_busy_timeout(
    sqlite_db: Database,
) -> None:
    with write_lock_held_elsewhere(sqlite_db):
        started = time.monotonic()
        with pytest.raises(WriterBusyError), sqlite_db.uow(wait=False) as conn:
            conn.exec_driver_sql("INSERT INTO gc_probe (id) VALUES (1)")
        assert time.monotonic() - started < 1  # not SQLite's busy timeout
    assert _stored(sqlite_db) == set()
    for _ in range(4):  # every pooled connection still waits for the lock as configured
        with sqlite_db.uow() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000


def test_the_loops_commits_leave_checkpoints_to_a_thread_of_their_own(sqlite_db: Database) -> None:
    committer = GroupCommitter(sqlite_db, checkpoint_every=3)
    database_file = Path(sqlite_db.engine.url.database or "")
    with sqlite_db.uow() as conn:
        conn.exec_driver_sql("CREATE TABLE gc_blobs (id INTEGER PRIMARY KEY, data BLOB)")
    sqlite_db.checkpoint()
    size = database_file.stat().st_size

    def blob(row_id: int) -> Any:  # ~1,200 pages: past the 1,000 at which a commit checkpoints
        def work(conn: Connection) -> None:
            conn.exec_driver_sql("INSERT INTO gc_blobs VALUES (?, randomblob(5000000))", (row_id,))

        return work

    async def groups(row_ids: range) -> None:
        for row_id in row_ids:
            await committer.run(blob(row_id))

    asyncio.run(groups(range(1, 3)))
    assert database_file.stat().st_size == size  # committed, and still only in the log
    asyncio.run(groups(range(3, 4)))  # the third group asks for a checkpoint, on its own thread
    deadline = time.monotonic() + 10
    while any(t.name == CHECKPOINT_THREAD for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert database_file.stat().st_size > size + 10_000_000
    for _ in range(4):  # every pooled connection checkpoints as usual again
        with sqlite_db.uow() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
            assert conn.exec_driver_sql("SELECT count(*) FROM gc_blobs").scalar() == 3
    with sqlite_db.uow() as conn:
        conn.exec_driver_sql("DROP TABLE gc_blobs")


def test_sqlite_hands_out_connections_beyond_its_pool_size_without_waiting(sqlite_target: DbTarget) -> None:
    """The event loop checks out connections too (ADR 0015): however many threads hold one, the next
    checkout must not wait for a connection to come back."""
    db = make_database(sqlite_target.url, pool_size=1)
    held: list[Connection] = []

    def check_out_twenty() -> None:
        held.extend(db.engine.connect() for _ in range(20))

    taker = threading.Thread(target=check_out_twenty, daemon=True)
    try:
        taker.start()
        taker.join(timeout=5)
        assert not taker.is_alive(), "a checkout waited for a free connection"
        assert len(held) == 20
        drivers = {id(conn.connection.dbapi_connection) for conn in held}
        assert len(drivers) == 20  # each one its own SQLite connection
    finally:
        for conn in held:
            conn.close()
        db.dispose()
