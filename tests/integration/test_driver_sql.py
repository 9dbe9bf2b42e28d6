"""Statements run on the driver's cursor (``earnloop.db.driver``) behave as SQLAlchemy Core's, on SQLite
and PostgreSQL: same rows, same transaction, same exceptions, same statement events — and a statement
that would need SQLAlchemy's type processing is refused before it runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from earnloop.db import driver
from earnloop.db.engine import Database

metadata = MetaData()
items = Table(
    "driver_sql_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(40), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    Column("blob", LargeBinary),
    Column("extra", JSON),
)

_INSERT = insert(items).returning(items.c.id)
_BY_NAME = select(items.c.id, items.c.name, items.c.amount, items.c.blob).where(
    items.c.name == bindparam("name")
)
_SET = update(items).where(items.c.id == bindparam("item_id"))  # SET takes the columns passed
_BIG = select(items.c.name).where(items.c.amount > 1_000).order_by(items.c.name)  # a value bound in it


@pytest.fixture
def table(db: Database) -> Iterator[Database]:
    metadata.create_all(db.engine)
    yield db
    metadata.drop_all(db.engine)


def _add(db: Database, name: str, amount: int, blob: bytes | None = None) -> int:
    with db.uow() as conn:
        return int(driver.scalar(conn, _INSERT, {"name": name, "amount": amount, "blob": blob}))


def test_rows_match_what_core_returns(table: Database) -> None:
    first = _add(table, "alpha", 2**62, b"\x00\xff")
    _add(table, "beta", 7)
    _add(table, "gamma", 5_000)
    with table.uow(write=False) as conn:
        row = driver.first(conn, _BY_NAME, {"name": "alpha"})
        core = conn.execute(_BY_NAME, {"name": "alpha"}).one()
        assert tuple(row) == tuple(core) == (first, "alpha", 2**62, b"\x00\xff")
        assert (row.id, row.name, row.amount) == (first, "alpha", 2**62)
        assert driver.first(conn, _BY_NAME, {"name": "nobody"}) is None
        assert driver.scalar(conn, _BY_NAME, {"name": "nobody"}) is None
        assert driver.scalars(conn, _BIG) == ["alpha", "gamma"] == list(conn.execute(_BIG).scalars())
        assert [tuple(r) for r in driver.rows(conn, _BIG)] == [("alpha",), ("gamma",)]


def test_an_update_sets_only_the_columns_passed(table: Database) -> None:
    item = _add(table, "alpha", 10, b"keep")
    with table.uow() as conn:
        assert driver.execute(conn, _SET, {"item_id": item, "amount": 11}).rowcount == 1
        assert driver.execute(conn, _SET, {"item_id": item, "name": "renamed"}).rowcount == 1
        assert driver.execute(conn, _SET, {"item_id": item + 99, "amount": 1}).rowcount == 0
    with table.uow(write=False) as conn:
        assert tuple(driver.first(conn, _BY_NAME, {"name": "renamed"})) == (item, "renamed", 11, b"keep")


def _insert_then_fail(db: Database, name: str) -> None:
    with db.uow() as conn:
        driver.execute(conn, _INSERT, {"name": name, "amount": 1, "blob": None})
        raise RuntimeError("the unit of work fails")


def test_statements_join_the_connections_transaction_and_savepoints(table: Database) -> None:
    with pytest.raises(RuntimeError):
        _insert_then_fail(table, "rolled-back")
    with table.uow() as conn:
        driver.execute(conn, _INSERT, {"name": "kept", "amount": 1, "blob": None})
        savepoint = conn.begin_nested()
        driver.execute(conn, _INSERT, {"name": "undone", "amount": 1, "blob": None})
        savepoint.rollback()
    with table.uow(write=False) as conn:
        assert list(conn.execute(select(items.c.name)).scalars()) == ["kept"]


def _names(db: Database) -> list[str]:
    with db.uow(write=False) as conn:
        return list(conn.execute(select(items.c.name).order_by(items.c.name)).scalars())


def _add_in_savepoint(conn: Any, *names: str) -> None:
    with driver.savepoint(conn):
        for name in names:
            driver.execute(conn, _INSERT, {"name": name, "amount": 1, "blob": None})


def _fail_after_inner_savepoint(conn: Any) -> None:
    with driver.savepoint(conn):
        _add_in_savepoint(conn, "released-inside")
        raise RuntimeError("the outer block fails")


def test_savepoints_nest_and_a_failed_one_leaves_the_transaction_usable(table: Database) -> None:
    with table.uow() as conn:
        with driver.savepoint(conn):
            driver.execute(conn, _INSERT, {"name": "outer", "amount": 1, "blob": None})
            with pytest.raises(IntegrityError):
                _add_in_savepoint(conn, "inner", "outer")  # the second is a duplicate
            driver.execute(conn, _INSERT, {"name": "after", "amount": 1, "blob": None})  # still usable
        with pytest.raises(RuntimeError):
            _fail_after_inner_savepoint(conn)
    assert _names(table) == ["after", "outer"]


def _insert_both(db: Database, names: list[str]) -> None:
    with db.uow() as conn:
        for name in names:
            driver.execute(conn, _INSERT, {"name": name, "amount": 2, "blob": None})


def test_a_database_error_is_sqlalchemys_and_changes_nothing(table: Database) -> None:
    _add(table, "alpha", 1)
    with pytest.raises(IntegrityError) as raised:
        _insert_both(table, ["beta", "alpha"])
    assert "driver_sql_items" in str(raised.value)  # the statement is named in the error
    with table.uow(write=False) as conn:
        assert conn.execute(select(func.count()).select_from(items)).scalar_one() == 1


def test_statement_listeners_see_driver_statements(table: Database) -> None:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(table.engine, "before_cursor_execute", record)
    try:
        with table.uow(write=False) as conn:
            driver.first(conn, _BY_NAME, {"name": "alpha"})
    finally:
        event.remove(table.engine, "before_cursor_execute", record)
    statements = [s for s, _ in seen if "driver_sql_items" in s]
    assert len(statements) == 1
    assert statements[0].startswith("SELECT")


@pytest.mark.parametrize(
    ("statement", "params", "reason"),
    [
        (insert(items), {"name": "x", "amount": 1, "extra": {"a": 1}}, "needs type processing"),
        (select(items.c.extra), {}, "needs type processing"),
        (
            select(items.c.id).where(items.c.id.in_(bindparam("ids", expanding=True))),
            {"ids": [1]},
            "IN lists",
        ),
        (select(items.c.id).where(items.c.name == bindparam("name")), {}, "has no value"),
    ],
)
def test_what_would_need_sqlalchemy_is_refused_before_it_runs(
    table: Database, statement: Any, params: dict[str, Any], reason: str
) -> None:
    with pytest.raises(driver.DriverSQLError, match=reason), table.uow() as conn:
        driver.execute(conn, statement, params)
    with table.uow(write=False) as conn:
        assert conn.execute(select(func.count()).select_from(items)).scalar_one() == 0
