"""Read-only queries of the ledger's history: an account's transfers and balances by filter, and its balance
at a moment (TigerBeetle's ``get_account_transfers``, ``get_account_balances``). No locks: these read
committed rows only and never feed a write."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, and_, or_, select

from earnloop.ledger import models
from earnloop.ledger.repository import transfer_from_row
from earnloop.ledger.types import AccountBalance, AccountFilter, AccountFilterFlags, Transfer, enc64, enc128


def _filter_time(column: Any, f: AccountFilter) -> list[Any]:
    clauses = []
    if f.timestamp_min:
        clauses.append(column >= f.timestamp_min)
    if f.timestamp_max:
        clauses.append(column <= f.timestamp_max)
    return clauses


def _transfer_filter(f: AccountFilter) -> list[Any]:
    t = models.transfers
    key = enc128(f.account_id)
    sides = []
    if f.flags & AccountFilterFlags.DEBITS:
        sides.append(t.c.debit_account_id == key)
    if f.flags & AccountFilterFlags.CREDITS:
        sides.append(t.c.credit_account_id == key)
    clauses = [or_(*sides), *_filter_time(t.c.timestamp, f)]
    if f.user_data_128:
        clauses.append(t.c.user_data_128 == enc128(f.user_data_128))
    if f.user_data_64:
        clauses.append(t.c.user_data_64 == enc64(f.user_data_64))
    if f.user_data_32:
        clauses.append(t.c.user_data_32 == f.user_data_32)
    if f.code:
        clauses.append(t.c.code == f.code)
    return clauses


def account_transfers(conn: Connection, f: AccountFilter) -> list[Transfer]:
    t = models.transfers
    order = t.c.timestamp.desc() if f.flags & AccountFilterFlags.REVERSED else t.c.timestamp.asc()
    query = select(t).where(and_(*_transfer_filter(f))).order_by(order).limit(f.limit)
    return [transfer_from_row(row) for row in conn.execute(query)]


def _balance_from_row(row: Row[Any]) -> AccountBalance:
    return AccountBalance(
        timestamp=row.timestamp,
        debits_pending=row.debits_pending,
        debits_posted=row.debits_posted,
        credits_pending=row.credits_pending,
        credits_posted=row.credits_posted,
    )


def account_balances(conn: Connection, f: AccountFilter) -> list[AccountBalance]:
    """History rows at the timestamps of the transfers the filter selects (expiries never appear)."""
    t, h = models.transfers, models.account_balances
    order = t.c.timestamp.desc() if f.flags & AccountFilterFlags.REVERSED else t.c.timestamp.asc()
    query = (
        select(h)
        .join(t, t.c.timestamp == h.c.timestamp)
        .where(h.c.account_id == enc128(f.account_id), *_transfer_filter(f))
        .order_by(order)
        .limit(f.limit)
    )
    return [_balance_from_row(row) for row in conn.execute(query)]


def balance_at(conn: Connection, account_id: int, timestamp: int) -> AccountBalance | None:
    """The last history row of the account at or before ``timestamp`` (expiries included)."""
    h = models.account_balances
    query = (
        select(h)
        .where(h.c.account_id == enc128(account_id), h.c.timestamp <= timestamp)
        .order_by(h.c.timestamp.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return _balance_from_row(row) if row is not None else None
