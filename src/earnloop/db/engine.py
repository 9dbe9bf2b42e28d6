"""Engines and the unit of work for SQLite (embedded default) and PostgreSQL (psycopg 3, pooled).

SQLite runs in WAL mode with ``foreign_keys=ON`` and a busy timeout; write transactions start with
``BEGIN IMMEDIATE`` so that two writers never deadlock on a lock upgrade. A unit of work is one
transaction: it commits when its block ends normally and rolls back on any exception. A SQLite write
unit of work may be asked not to wait (``Database.uow(wait=False)``, for an event loop): for the write
lock, nor for a checkpoint at its commit.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from earnloop.config import Settings
from earnloop.db import driver

_BEGIN_MODE = "earnloop_sqlite_begin"
_NOWAIT = "IMMEDIATE, without waiting"
AUTOCHECKPOINT_PAGES = 1000  # SQLite's default: a commit that takes the log past it checkpoints


class WriterBusyError(Exception):
    """The SQLite write lock is taken (by a writer of this process or of another): raised by a unit
    of work that was asked not to wait (``Database.uow(wait=False)``), before anything ran."""


@contextmanager
def _begun(conn: Connection, wait: bool) -> Iterator[None]:
    """``conn.begin()`` as a block; a lock that ``BEGIN IMMEDIATE`` could not take at once (when not
    waiting) is :class:`WriterBusyError`."""
    try:
        transaction = conn.begin()
    except OperationalError as exc:
        if not wait and getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY:
            raise WriterBusyError("another process holds the SQLite write lock") from exc
        raise
    with transaction:
        yield


@dataclass(frozen=True)
class Database:
    """An engine plus the knowledge of which dialect it speaks.

    On SQLite, write units of work of this process take a lock before ``BEGIN IMMEDIATE``: writers
    queue in order instead of polling SQLite's busy handler (whose sleeps make a long latency tail).
    Other processes still wait through the busy timeout.
    """

    engine: Engine
    sqlite_writer: threading.RLock = field(default_factory=threading.RLock, compare=False, repr=False)
    search_path: str | None = None  # the PostgreSQL schema it was opened on (tests), for worker processes

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def uow(self, *, write: bool = True, wait: bool = True) -> Iterator[Connection]:
        """One transaction. Commits on normal exit, rolls back on exception. Only this commits.

        ``wait=False`` (SQLite writes) waits for nothing, as an event loop must not: it raises
        :class:`WriterBusyError` at once, before anything runs, instead of waiting for a writer of
        this process or another to finish (SQLite's busy timeout), and its commit does not checkpoint
        the write-ahead log (a checkpoint ends with an fsync): the caller runs :meth:`checkpoint`
        elsewhere, from time to time."""
        if self.is_sqlite and write:
            if not self.sqlite_writer.acquire(blocking=wait):
                raise WriterBusyError("another writer of this process holds the SQLite write lock")
            try:
                with self.engine.connect() as conn:
                    conn = conn.execution_options(**{_BEGIN_MODE: "IMMEDIATE" if wait else _NOWAIT})
                    try:
                        with _begun(conn, wait):
                            yield conn
                    finally:
                        if not wait:  # the connection goes back to the pool checkpointing as usual
                            driver.run_sql(conn, f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
            finally:
                self.sqlite_writer.release()
            return
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn = conn.execution_options(**{_BEGIN_MODE: "DEFERRED"})
            with conn.begin():
                yield conn

    def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database file as far as readers allow, waiting
        for no lock (``PRAGMA wal_checkpoint(PASSIVE)``); the log restarts once it is all copied."""
        with self.engine.connect() as conn:
            driver.run_sql(conn, "PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def dispose(self) -> None:
        self.engine.dispose()


def _install_sqlite_hooks(engine: Engine, busy_timeout_ms: int, cache_mib: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Savepoints (every postback runs in two) journal the pages they change to a temporary file
        # by default: ~60 µs of file I/O a postback; in memory it is a copy (ADR 0012).
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # SQLite's default page cache is 2 MiB: once the ledger's indexes outgrow it, every batch
        # re-reads index pages (8,190 transfers: insert ~115 → ~75 ms with 64 MiB). Negative = KiB.
        cursor.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_MODE, "IMMEDIATE")
        if mode != _NOWAIT:
            driver.run_sql(conn, f"BEGIN {mode}")  # every unit of work: on the cursor (ADR 0011)
            return
        driver.run_sql(conn, "PRAGMA busy_timeout=0")  # SQLITE_BUSY at once if another process writes
        try:
            driver.run_sql(conn, "BEGIN IMMEDIATE")
        finally:
            driver.run_sql(conn, f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        driver.run_sql(conn, "PRAGMA wal_autocheckpoint=0")  # until the unit of work is over


SQLITE_FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_sqlite_file(path: Path) -> None:
    """Create the database file readable by its owner only (0600) before SQLite opens it: it holds
    every balance and sealed secret. SQLite creates its ``-wal`` and ``-shm`` files with the mode of
    the database file; an existing file (and side file) looser than 0600 is tightened."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE))
    for file in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_SIDE_FILES)):
        try:
            if stat.S_IMODE(file.stat().st_mode) & ~SQLITE_FILE_MODE:
                file.chmod(SQLITE_FILE_MODE)
        except FileNotFoundError:
            continue


def database_from_settings(settings: Settings) -> Database:
    """The configured database (``EARNLOOP_DATABASE_URL`` and its tuning settings)."""
    return make_database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        sqlite_cache_mib=settings.sqlite_cache_mib,
    )


def make_database(
    url: str,
    *,
    pool_size: int = 10,
    sqlite_busy_timeout_ms: int = 30_000,
    sqlite_cache_mib: int = 64,
    search_path: str | None = None,
) -> Database:
    """Build a :class:`Database` for ``url``. ``search_path`` selects a PostgreSQL schema (tests)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            private_sqlite_file(Path(parsed.database))
        # Never waits for a free connection (an event loop checks them out too, ADR 0015): SQLite
        # connections are a file handle, and those beyond ``pool_size`` are closed when returned.
        engine = create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=-1,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        _install_sqlite_hooks(engine, sqlite_busy_timeout_ms, sqlite_cache_mib)
        return Database(engine)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    connect_args: dict[str, Any] = {}
    if search_path:
        connect_args["options"] = f"-csearch_path={search_path}"
    engine = create_engine(
        parsed, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, connect_args=connect_args
    )
    return Database(engine, search_path=search_path)
