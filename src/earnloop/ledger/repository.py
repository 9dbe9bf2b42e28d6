"""SQL for the ledger: batched loads of the rows a batch touches, and batched writes of its effects.

Every read that feeds a write happens inside the caller's transaction after :func:`lock_clock`, which
serialises ledger writers (SQLite already holds the write lock from ``BEGIN IMMEDIATE``; PostgreSQL
takes the clock row ``FOR UPDATE``). Only the ledger writes ``ledger_accounts``, and on PostgreSQL the
reference triggers of migration 0140 take the same lock, so the accounts a batch reads cannot change
before it writes them; they are not locked row by row (ADR 0008). Balance updates are single guarded
statements that add deltas, so even a bug upstream cannot overdraw an account or lose an update.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Connection, bindparam, update

from earnloop.db import driver
from earnloop.ledger import models
from earnloop.ledger.types import (
    STATUS_PENDING,
    Account,
    AccountBalance,
    AccountDelta,
    PendingInfo,
    Transfer,
    dec64,
    dec128,
    enc64,
    enc128,
)

IN_CHUNK = 4000


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]


# Hot paths (the per-batch loads and inserts) run as driver SQL with pre-encoded tuples
# (``earnloop.db.driver``): SQLAlchemy Core's per-row parameter processing, expanding IN lists and
# per-statement execution context cost more than the database work.
def _mark(conn: Connection) -> str:
    """The driver's placeholder (sqlite3: qmark, psycopg: format)."""
    return "?" if conn.dialect.name == "sqlite" else "%s"


@functools.cache
def _columns(table: Any) -> str:
    return ", ".join(f'"{c.name}"' for c in table.columns)


def _insert_sql(conn: Connection, table: Any) -> str:
    return _insert_sql_with(table, _mark(conn))


@functools.cache
def _insert_sql_with(table: Any, mark: str) -> str:
    marks = ", ".join(mark for _ in table.columns)
    return f"INSERT INTO {table.name} ({_columns(table)}) VALUES ({marks})"  # noqa: S608 (model names)


def _select_in(
    conn: Connection, table: Any, keys: Sequence[bytes], *, columns: str | None = None
) -> Iterator[tuple[Any, ...]]:
    """Rows of ``table`` whose ``id`` is in ``keys`` (PostgreSQL: one array parameter per query)."""
    head = f"SELECT {columns or _columns(table)} FROM {table.name} WHERE id"  # noqa: S608 (model names)
    if conn.dialect.name == "postgresql":
        if keys:
            sql = f"{head} IN (SELECT unnest(%b::bytea[]))"
            yield from driver.run_sql(conn, sql, (list(keys),)).fetchall()  # one fetch, not one per row
        return
    for chunk in _chunks(keys):
        marks = ", ".join("?" for _ in chunk)
        yield from driver.run_sql(conn, f"{head} IN ({marks})", tuple(chunk)).fetchall()


def _per_dialect(sql: str, *, postgresql_suffix: str = "") -> dict[str, str]:
    """``sql`` (qmark placeholders) for sqlite3, and with format placeholders for psycopg."""
    return {"sqlite": sql, "postgresql": sql.replace("?", "%s") + postgresql_suffix}


# The clock and the expiry pulse run on every batch (see the note on hot paths above).
_LOCK_CLOCK = _per_dialect(
    "SELECT last_timestamp FROM ledger_clock WHERE id = 1", postgresql_suffix=" FOR UPDATE"
)
_ADVANCE_CLOCK = _per_dialect(
    "UPDATE ledger_clock SET last_timestamp = ? WHERE id = 1 AND last_timestamp < ?"
)
_DUE_EXPIRIES = _per_dialect(
    "SELECT id FROM ledger_pending_status WHERE status = ? AND expires_at <= ?"
    " ORDER BY expires_at, id LIMIT ?"
)
_INSERT_ACCOUNTS = models.accounts.insert()
_FINISH_PENDING = (
    update(models.pending_status)
    .where(models.pending_status.c.id == bindparam("b_id"), models.pending_status.c.status == STATUS_PENDING)
    .values(status=bindparam("b_status"), timestamp=bindparam("b_ts"))
)


def lock_clock(conn: Connection) -> int:
    """Take the ledger's write lock and return the last timestamp handed out."""
    (last_timestamp,) = driver.run_sql(conn, _LOCK_CLOCK[conn.dialect.name]).fetchone()
    return int(last_timestamp)


def advance_clock(conn: Connection, last_timestamp: int) -> None:
    driver.run_sql(conn, _ADVANCE_CLOCK[conn.dialect.name], (last_timestamp, last_timestamp))


def account_from_row(row: Sequence[Any]) -> Account:
    """Decode a full ``ledger_accounts`` row (columns in table order)."""
    (id_, ledger, code, ud128, ud64, ud32, flags, dp, dpo, cp, cpo, ts) = row
    # Positional, in the field order of ``Account`` (id, ledger, code, flags, user_data_128/64/32,
    # reserved, debits_pending/posted, credits_pending/posted, timestamp): keyword arguments make
    # this call ~2x slower, and a batch decodes ~8k accounts.
    return Account(
        int.from_bytes(id_, "big"),
        ledger,
        code,
        flags,
        int.from_bytes(ud128, "big"),
        ud64 + (1 << 64) if ud64 < 0 else ud64,
        ud32,
        0,
        dp,
        dpo,
        cp,
        cpo,
        ts,
    )


def transfer_from_row(row: Sequence[Any]) -> Transfer:
    """Decode a full ``ledger_transfers`` row (columns in table order)."""
    (id_, debit, credit, amount, pending, ud128, ud64, ud32, timeout, ledger, code, flags, ts) = row
    return Transfer(
        id=dec128(id_),
        debit_account_id=dec128(debit),
        credit_account_id=dec128(credit),
        amount=amount,
        pending_id=dec128(pending) if pending is not None else 0,
        user_data_128=dec128(ud128),
        user_data_64=dec64(ud64),
        user_data_32=ud32,
        timeout=timeout,
        ledger=ledger,
        code=code,
        flags=flags,
        timestamp=ts,
    )


def load_accounts(conn: Connection, ids: Iterable[int]) -> dict[int, Account]:
    """Accounts by id. Not ``FOR UPDATE``: under the ledger lock nothing else can change them (see the
    module docstring), and locking ~8k rows only to update them moments later cost ~15 ms a batch."""
    keys = sorted({enc128(i) for i in ids})
    found: dict[int, Account] = {}
    for row in _select_in(conn, models.accounts, keys):
        account = account_from_row(row)
        found[account.id] = account
    return found


def load_transfers(conn: Connection, ids: Iterable[int]) -> dict[int, Transfer]:
    keys = sorted({enc128(i) for i in ids})
    found: dict[int, Transfer] = {}
    for row in _select_in(conn, models.transfers, keys):
        transfer = transfer_from_row(row)
        found[transfer.id] = transfer
    return found


def load_pending(conn: Connection, ids: Iterable[int]) -> dict[int, PendingInfo]:
    keys = sorted({enc128(i) for i in ids})
    found: dict[int, PendingInfo] = {}
    for key, status, expires_at in _select_in(
        conn, models.pending_status, keys, columns="id, status, expires_at"
    ):
        found[dec128(key)] = PendingInfo(status=status, expires_at=expires_at)
    return found


def load_failed(conn: Connection, ids: Iterable[int]) -> dict[int, int]:
    keys = sorted({enc128(i) for i in ids})
    found: dict[int, int] = {}
    for key, result in _select_in(conn, models.failed_ids, keys, columns="id, result"):
        found[dec128(key)] = result
    return found


def due_expiries(conn: Connection, now_ns: int, limit: int) -> list[int]:
    """Ids of pending transfers whose timeout has passed, oldest expiry first."""
    due = driver.run_sql(conn, _DUE_EXPIRIES[conn.dialect.name], (STATUS_PENDING, now_ns, limit))
    return [dec128(key) for (key,) in due.fetchall()]


def insert_accounts(conn: Connection, rows: Sequence[Account]) -> None:
    if rows:
        conn.execute(_INSERT_ACCOUNTS, [_account_params(a) for a in rows])


def _account_params(a: Account) -> dict[str, Any]:
    return {
        "id": enc128(a.id),
        "ledger": a.ledger,
        "code": a.code,
        "user_data_128": enc128(a.user_data_128),
        "user_data_64": enc64(a.user_data_64),
        "user_data_32": a.user_data_32,
        "flags": a.flags,
        "debits_pending": a.debits_pending,
        "debits_posted": a.debits_posted,
        "credits_pending": a.credits_pending,
        "credits_posted": a.credits_posted,
        "timestamp": a.timestamp,
    }


def transfer_params(t: Transfer) -> dict[str, Any]:
    return {
        "id": enc128(t.id),
        "debit_account_id": enc128(t.debit_account_id),
        "credit_account_id": enc128(t.credit_account_id),
        "amount": t.amount,
        "pending_id": enc128(t.pending_id) if t.pending_id else None,
        "user_data_128": enc128(t.user_data_128),
        "user_data_64": enc64(t.user_data_64),
        "user_data_32": t.user_data_32,
        "timeout": t.timeout,
        "ledger": t.ledger,
        "code": t.code,
        "flags": t.flags,
        "timestamp": t.timestamp,
    }


def transfer_row(t: Transfer) -> tuple[Any, ...]:
    """``transfer_params`` as a tuple in the column order of ``ledger_transfers``."""
    return (
        enc128(t.id),
        enc128(t.debit_account_id),
        enc128(t.credit_account_id),
        t.amount,
        enc128(t.pending_id) if t.pending_id else None,
        enc128(t.user_data_128),
        enc64(t.user_data_64),
        t.user_data_32,
        t.timeout,
        t.ledger,
        t.code,
        t.flags,
        t.timestamp,
    )


COPY_THRESHOLD = 64


def insert_transfers(conn: Connection, rows: Sequence[Transfer]) -> None:
    if rows:
        _insert_rows(conn, models.transfers, [transfer_row(t) for t in rows])


def _insert_rows(conn: Connection, table: Any, rows: list[tuple[Any, ...]]) -> None:
    """Batched insert of tuples in column order; on PostgreSQL large batches use ``COPY`` (same
    transaction, several times faster than a pipelined INSERT)."""
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_THRESHOLD:
        _copy_rows(conn, table, rows)
    else:
        driver.run_many(conn, _insert_sql(conn, table), rows)


_PG_BINARY_TYPES = {"LargeBinary": "bytea", "BigInteger": "int8", "Integer": "int4", "SmallInteger": "int2"}


@functools.cache
def _pg_types(table: Any) -> list[str]:
    """PostgreSQL type names of ``table``'s columns, for a binary ``COPY``."""
    return [_PG_BINARY_TYPES[type(c.type).__name__] for c in table.columns]


def _copy_rows(conn: Connection, table: Any, rows: list[tuple[Any, ...]]) -> None:
    with _copy_stream(conn, table) as write_row:
        for row in rows:
            write_row(row)


@contextmanager
def _copy_stream(conn: Connection, table: Any) -> Iterator[Callable[[Sequence[Any]], None]]:
    """A binary ``COPY`` into ``table`` (no text escaping of the 16-byte ids), open for the block: rows
    written are sent as the buffer fills, and the server inserts them while the caller goes on. A
    refusal by the database surfaces as SQLAlchemy's exception (``IntegrityError`` …), as it does for
    every other statement."""
    statement = f"COPY {table.name} ({_columns(table)}) FROM STDIN (FORMAT BINARY)"
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            copy.set_types(_pg_types(table))
            yield copy.write_row
    except psycopg.Error as exc:
        raise driver.sqlalchemy_error(conn, statement, None, exc) from exc
    finally:
        cursor.close()


@contextmanager
def transfer_writer(conn: Connection, events: int) -> Iterator[Callable[[Sequence[Transfer]], None]]:
    """Insert transfers as a batch of ``events`` decides them, in as few statements as possible.

    On PostgreSQL a large batch streams its rows into one ``COPY`` that stays open while the state
    machine decides the rest, so the server's insert work overlaps the Python work instead of
    following it. Elsewhere the rows are collected and inserted when the block ends.
    """
    if conn.dialect.name == "postgresql" and events >= COPY_THRESHOLD:
        with _copy_stream(conn, models.transfers) as write_row:
            yield lambda transfers: _write_transfers(write_row, transfers)
        return
    collected: list[Transfer] = []
    yield collected.extend
    insert_transfers(conn, collected)


def _write_transfers(write_row: Callable[[Sequence[Any]], None], transfers: Sequence[Transfer]) -> None:
    for t in transfers:
        write_row(transfer_row(t))


def insert_pending(conn: Connection, rows: Sequence[tuple[int, int, int | None, int]]) -> None:
    """Rows of (transfer id, status, expires_at, timestamp) for pending transfers created now."""
    if rows:
        _insert_rows(conn, models.pending_status, [(enc128(i), st, exp, ts) for i, st, exp, ts in rows])


def finish_pending(conn: Connection, rows: Sequence[tuple[int, int, int]]) -> None:
    """Rows of (transfer id, new status, timestamp); each must still be pending (guarded)."""
    if not rows:
        return
    params = [{"b_id": enc128(i), "b_status": s, "b_ts": ts} for i, s, ts in rows]
    result = conn.execute(_FINISH_PENDING, params)
    if result.rowcount != len(rows):
        raise LedgerWriteConflictError(
            f"pending status changed under the lock ({result.rowcount}/{len(rows)})"
        )


def insert_failed(conn: Connection, rows: Sequence[tuple[int, int, int]]) -> None:
    """Rows of (transfer id, result code, timestamp) for ids burnt by a transient failure."""
    if rows:
        _insert_rows(conn, models.failed_ids, [(enc128(i), r, ts) for i, r, ts in rows])


# SQLite: sqlite3 binds the :named parameters itself.
_APPLY_DELTAS = """
    UPDATE ledger_accounts SET
        debits_pending = debits_pending + :d_dp,
        debits_posted = debits_posted + :d_dpo,
        credits_pending = credits_pending + :d_cp,
        credits_posted = credits_posted + :d_cpo,
        flags = CASE WHEN :closed = 1 THEN (flags | 32) ELSE (flags & ~32) END
    WHERE id = :id
      AND ((flags & 2) = 0 OR debits_pending + :d_dp + debits_posted + :d_dpo <= credits_posted + :d_cpo)
      AND ((flags & 4) = 0 OR credits_pending + :d_cp + credits_posted + :d_cpo <= debits_posted + :d_dpo)
    """
# PostgreSQL: the same guarded update as one statement over arrays (one round trip, not one per account).
_APPLY_DELTAS_PG = """
    UPDATE ledger_accounts AS a SET
        debits_pending = a.debits_pending + d.d_dp,
        debits_posted = a.debits_posted + d.d_dpo,
        credits_pending = a.credits_pending + d.d_cp,
        credits_posted = a.credits_posted + d.d_cpo,
        flags = CASE WHEN d.closed = 1 THEN (a.flags | 32) ELSE (a.flags & ~32) END
    FROM unnest(%b::bytea[], %b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[], %b::int[])
        AS d(id, d_dp, d_dpo, d_cp, d_cpo, closed)
    WHERE a.id = d.id
      AND ((a.flags & 2) = 0
           OR a.debits_pending + d.d_dp + a.debits_posted + d.d_dpo <= a.credits_posted + d.d_cpo)
      AND ((a.flags & 4) = 0
           OR a.credits_pending + d.d_cp + a.credits_posted + d.d_cpo <= a.debits_posted + d.d_dpo)
    """


def apply_account_deltas(conn: Connection, deltas: Sequence[AccountDelta]) -> None:
    """Add balance deltas in id order, each guarded by the account's limit flags."""
    if not deltas:
        return
    ordered = sorted(deltas, key=lambda d: d.account_id)
    if conn.dialect.name == "postgresql":
        columns = (
            [enc128(d.account_id) for d in ordered],
            [d.debits_pending for d in ordered],
            [d.debits_posted for d in ordered],
            [d.credits_pending for d in ordered],
            [d.credits_posted for d in ordered],
            [1 if d.closed else 0 for d in ordered],
        )
        _check_deltas_applied(driver.run_sql(conn, _APPLY_DELTAS_PG, columns).rowcount, len(ordered))
        return
    params = [
        {
            "id": enc128(d.account_id),
            "d_dp": d.debits_pending,
            "d_dpo": d.debits_posted,
            "d_cp": d.credits_pending,
            "d_cpo": d.credits_posted,
            "closed": 1 if d.closed else 0,
        }
        for d in ordered
    ]
    _check_deltas_applied(driver.run_many(conn, _APPLY_DELTAS, params).rowcount, len(params))


def _check_deltas_applied(rowcount: int, expected: int) -> None:
    if rowcount != expected:
        raise LedgerWriteConflictError(f"guarded balance update matched {rowcount} of {expected} accounts")


def insert_history(conn: Connection, rows: Sequence[tuple[int, AccountBalance]]) -> None:
    if rows:
        _insert_rows(
            conn,
            models.account_balances,
            [
                (
                    enc128(account_id),
                    b.timestamp,
                    b.debits_pending,
                    b.debits_posted,
                    b.credits_pending,
                    b.credits_posted,
                )
                for account_id, b in rows
            ],
        )


class LedgerWriteConflictError(RuntimeError):
    """A guarded write matched fewer rows than the in-memory state machine expected (never expected)."""
