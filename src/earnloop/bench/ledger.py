"""``earnloop bench ledger``: transfers/s and batch latency of :class:`LedgerService`, with a ceiling.

For each database (a fresh temporary SQLite file in WAL mode, and PostgreSQL in a fresh schema that is
dropped afterwards) the bench creates a pool of accounts, then runs ``create_transfers`` with batches
of 1 (single transfers: one call and one transaction per transfer), 100 and 8190 transfers, each batch
its own unit of work. The stream is mostly ordinary posted transfers between random accounts, plus
some pending transfers and posts of earlier pending ones.

The ceiling is measured in the same run on the same database, paired batch by batch: right after
each ledger batch, the very rows it stored (same columns, same encoding) are read back and inserted
raw — one driver-level ``executemany`` in one transaction of the same size — into a scratch copy of
``ledger_transfers`` with the same keys and indexes but no foreign keys or triggers. Pairing keeps a
slow spell of a noisy machine from landing on one side of the ratio only. ``ratio`` is
``value / ceiling``; for latencies the "ceiling" is the raw insert's latency at the same
percentile (a floor: lower is better there).

PostgreSQL comes from ``EARNLOOP_BENCH_POSTGRES_URL``; when it is unreachable the bench prints a
``skipped`` line for it and carries on. Progress goes to stderr, results to stdout (one JSON object a
line, printed by :func:`earnloop.bench.run_bench`).
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    Index,
    MetaData,
    Table,
    select,
    text,
)
from sqlalchemy.engine import make_url

from earnloop.bench.common import BenchError, percentile, progress_logger, result_line
from earnloop.bench.ledger_phases import describe, phase_timers
from earnloop.db.engine import Database, make_database
from earnloop.db.migrate import upgrade
from earnloop.ledger import models
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.results import CreateAccountStatus, CreateTransferStatus
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import BATCH_MAX, Account, Transfer, TransferFlags

BENCH = "ledger"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_URL_ENV = "EARNLOOP_BENCH_POSTGRES_URL"
RAW_TABLE = "bench_raw_transfers"
CEILING_WHAT = "raw batched INSERT of the same rows, same DB, same run"
LATENCY_CEILING_WHAT = "raw batched INSERT of the same rows, same DB, same run: its latency (a floor)"
SEED = 20_261_125
LEDGER_ID = 1
CODE = 1
PENDING_EVERY = 20  # one transfer in 20 is a pending transfer ...
POST_OFFSET = 15  # ... and one in 20 posts a pending transfer created earlier
POST_LAG = 2  # posts the pending transfer from this many periods before (spans batches)


@dataclass(frozen=True)
class Sizes:
    accounts: int
    # batch size → (measured batches, warm-up batches)
    batches: dict[int, tuple[int, int]]
    phase_batches: int  # batches of BATCH_MAX timed step by step (without --json)


FULL = Sizes(accounts=10_000, batches={1: (1000, 20), 100: (100, 2), BATCH_MAX: (10, 1)}, phase_batches=5)
QUICK = Sizes(accounts=300, batches={1: (20, 2), 100: (3, 1), BATCH_MAX: (1, 0)}, phase_batches=1)


def run(quick: bool, verbose: bool) -> Iterator[dict[str, Any]]:
    """Yield one result dict per metric, SQLite first, then PostgreSQL (or a ``skipped`` line)."""
    sizes = QUICK if quick else FULL
    log = progress_logger("ledger", verbose)
    with tempfile.TemporaryDirectory(prefix="earnloop-bench-") as tmp:
        db = make_database(f"sqlite:///{Path(tmp) / 'ledger.db'}", pool_size=1)
        try:
            upgrade(db)
            yield from _bench_database(db, sizes, log, breakdown=verbose)
        finally:
            db.dispose()
    url = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_database(_with_connect_timeout(url), pool_size=1)
    try:
        try:
            with admin.uow() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:  # any failure to reach PostgreSQL means "skip it"
            reason = f"PostgreSQL is not reachable ({type(exc).__name__}: {_first_line(exc)})"
            log(reason)
            yield {"bench": BENCH, "db": "postgresql", "skipped": reason}
            return
        try:
            db = make_database(url, search_path=schema, pool_size=1)
            try:
                upgrade(db)
                yield from _bench_database(db, sizes, log, breakdown=verbose)
            finally:
                db.dispose()
        finally:
            with admin.uow() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def _bench_database(
    db: Database, sizes: Sizes, log: Callable[[str], None], *, breakdown: bool
) -> Iterator[dict[str, Any]]:
    ledger = LedgerService(SystemClock())
    log(f"[{db.dialect}] creating {sizes.accounts} accounts")
    _create_accounts(db, ledger, sizes.accounts)
    raw_table = _create_raw_table(db)
    stream = TransferStream(sizes.accounts)
    for batch_size, (measured, warmup) in sizes.batches.items():
        log(f"[{db.dialect}] batch {batch_size}: {warmup} warm-up + {measured} measured batches, each")
        log(f"[{db.dialect}] batch {batch_size}: followed by the raw INSERT of the rows it stored")
        for _ in range(warmup):
            _paired_batch(db, ledger, raw_table, stream.take(batch_size))
        latencies: list[float] = []
        raw_latencies: list[float] = []
        for _ in range(measured):
            elapsed, raw_elapsed = _paired_batch(db, ledger, raw_table, stream.take(batch_size))
            latencies.append(elapsed)
            raw_latencies.append(raw_elapsed)
        count = measured * batch_size
        yield _line(
            db,
            "transfers_per_s",
            batch_size,
            count / sum(latencies),
            count / sum(raw_latencies),
            "1/s",
            CEILING_WHAT,
            digits=0,
        )
        for pct in (50, 99):
            yield _line(
                db,
                f"batch_latency_p{pct}_ms",
                batch_size,
                percentile(latencies, pct) * 1e3,
                percentile(raw_latencies, pct) * 1e3,
                "ms",
                LATENCY_CEILING_WHAT,
                digits=4,
            )
    if breakdown:
        _where_time_goes(db, ledger, stream, sizes.phase_batches, log)


def _where_time_goes(
    db: Database, ledger: LedgerService, stream: TransferStream, batches: int, log: Callable[[str], None]
) -> None:
    """Time each step of ``batches`` more batches of ``BATCH_MAX`` (not part of the measurement)."""
    with phase_timers() as totals:
        total_s = sum(_ledger_batch(db, ledger, stream.take(BATCH_MAX))[0] for _ in range(batches))
    log(f"[{db.dialect}] where time goes, batch {BATCH_MAX}: {describe(totals, total_s, batches)}")


def _paired_batch(
    db: Database, ledger: LedgerService, raw_table: Table, batch: Sequence[Transfer]
) -> tuple[float, float]:
    """One ledger batch, then the raw INSERT of the very rows it stored, in one transaction of the
    same size: (ledger seconds, raw seconds)."""
    elapsed, first_ts, last_ts = _ledger_batch(db, ledger, batch)
    rows = _stored_rows(db, first_ts, last_ts)
    if len(rows) != len(batch):
        raise BenchError(f"expected {len(batch)} stored transfers, found {len(rows)}")
    return elapsed, _raw_insert(db, raw_table, rows)


# -- the transfer stream ------------------------------------------------------------------------------
class TransferStream:
    """Deterministic transfers: mostly posted, one in 20 pending, one in 20 posting an earlier pending."""

    def __init__(self, accounts: int) -> None:
        self._rng = random.Random(SEED)
        self._accounts = accounts
        self._next_id = 1
        self._pending: deque[Transfer] = deque()

    def take(self, count: int) -> list[Transfer]:
        return [self._next() for _ in range(count)]

    def _next(self) -> Transfer:
        i = self._next_id
        self._next_id += 1
        phase = i % PENDING_EVERY
        if phase == POST_OFFSET and len(self._pending) > POST_LAG:
            p = self._pending.popleft()
            return Transfer(
                id=i,
                pending_id=p.id,
                amount=p.amount,
                flags=TransferFlags.POST_PENDING_TRANSFER,
                user_data_64=i,
            )
        debit = self._rng.randint(1, self._accounts)
        credit = self._rng.randint(1, self._accounts - 1)
        credit += credit >= debit  # never the debit account
        transfer = Transfer(
            id=i,
            debit_account_id=debit,
            credit_account_id=credit,
            amount=self._rng.randint(1, 10_000),
            ledger=LEDGER_ID,
            code=CODE,
            user_data_64=i,
        )
        if phase == 0:
            transfer.flags = TransferFlags.PENDING
            self._pending.append(transfer)
        return transfer


# -- steps ----------------------------------------------------------------------------------------------
def _create_accounts(db: Database, ledger: LedgerService, count: int) -> None:
    ids = list(range(1, count + 1))
    for start in range(0, count, BATCH_MAX):
        chunk = [Account(id=i, ledger=LEDGER_ID, code=CODE) for i in ids[start : start + BATCH_MAX]]
        with db.uow() as conn:
            results = ledger.create_accounts(conn, chunk)
        bad = [r for r in results if r.status != CreateAccountStatus.CREATED]
        if bad:
            raise BenchError(f"account creation failed: {bad[0]}")


def _ledger_batch(db: Database, ledger: LedgerService, batch: Sequence[Transfer]) -> tuple[float, int, int]:
    """Run one batch in its own unit of work; (seconds, first timestamp, last timestamp)."""
    start = time.perf_counter()
    with db.uow() as conn:
        results = ledger.create_transfers(conn, batch)
    elapsed = time.perf_counter() - start
    for transfer, result in zip(batch, results, strict=True):
        if result.status != CreateTransferStatus.CREATED:
            raise BenchError(f"transfer {transfer.id} was not created: {result.status.name}")
    return elapsed, results[0].timestamp, results[-1].timestamp


def _create_raw_table(db: Database) -> Table:
    """A copy of ``ledger_transfers``: same columns, keys, checks and indexes, no foreign keys."""
    source = models.transfers
    table = Table(
        RAW_TABLE,
        MetaData(),
        *(
            Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable, unique=c.unique)
            for c in source.columns
        ),
        CheckConstraint("amount >= 0", name=f"ck_{RAW_TABLE}_amount"),
    )
    for index in source.indexes:
        Index(f"{RAW_TABLE}_{index.name}", *(table.c[c.name] for c in index.columns))
    with db.uow() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)
    return table


def _stored_rows(db: Database, ts_min: int, ts_max: int) -> list[tuple[Any, ...]]:
    """The transfer rows the ledger stored in a timestamp range, as stored, in timestamp order."""
    t = models.transfers
    query = select(*t.columns).where(t.c.timestamp.between(ts_min, ts_max)).order_by(t.c.timestamp)
    with db.uow(write=False) as conn:
        return [tuple(row) for row in conn.execute(query)]


def _raw_insert(db: Database, table: Table, rows: list[tuple[Any, ...]]) -> float:
    """Insert ``rows`` raw in one transaction; the seconds it took."""
    sql = _raw_insert_sql(db, table, [c.name for c in models.transfers.columns])
    began = time.perf_counter()
    with db.uow() as conn:
        _executemany(conn, sql, rows)
    return time.perf_counter() - began


def _raw_insert_sql(db: Database, table: Table, names: list[str]) -> str:
    mark = "?" if db.is_sqlite else "%s"
    columns = ", ".join(f'"{n}"' for n in names)
    return f'INSERT INTO "{table.name}" ({columns}) VALUES ({", ".join(mark for _ in names)})'


def _executemany(conn: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    if len(rows) == 1:
        conn.exec_driver_sql(sql, rows[0])
    else:
        conn.exec_driver_sql(sql, rows)


# -- output ---------------------------------------------------------------------------------------------
def _line(
    db: Database,
    metric: str,
    batch: int,
    value: float,
    ceiling: float,
    unit: str,
    ceiling_what: str,
    *,
    digits: int,
) -> dict[str, Any]:
    return result_line(
        BENCH, db.dialect, metric, value, ceiling, unit, ceiling_what, digits=digits, batch=batch
    )


def _with_connect_timeout(url: str) -> str:
    parsed = make_url(url)
    if "connect_timeout" in parsed.query:
        return url
    return parsed.update_query_dict({"connect_timeout": "5"}).render_as_string(hide_password=False)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else ""


__all__ = ["run"]
