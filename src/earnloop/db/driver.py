"""Statements run straight on the driver's cursor, for the hottest paths (signed postbacks, the ledger).

SQLAlchemy Core costs 15–20 µs a statement on top of the driver (its execution context, parameter
processing, result metadata, events), several times what SQLite itself needs for a primary-key
lookup; a postback runs about thirty statements. Here a Core statement is compiled once per dialect
and then executed on the DBAPI cursor of the connection's current transaction — same connection,
same transaction and savepoints, same SQL as Core would send.

What this gives up is checked when a statement is first compiled, not left to chance:

- no type processing: every bound parameter and result column must be of a type the driver takes and
  returns as is (integers, strings, bytes; not booleans, enums, JSON, dates or decimals) — a statement
  that needs more raises :class:`DriverSQLError`;
- no expanding ``IN`` parameters (use :func:`run_sql` with the dialect's own SQL, as the ledger does);
- rows are named tuples, not SQLAlchemy ``Row`` objects.

:func:`savepoint` does what ``conn.begin_nested()`` does, the same way.

What it keeps: a database error surfaces as SQLAlchemy's exception (``IntegrityError`` …) wrapping
the driver's, and listeners of ``before_cursor_execute`` still see every statement.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import types as sqltypes
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import Executable

Params = Mapping[str, Any]


class DriverSQLError(TypeError):
    """A statement that cannot run on the driver as is (it needs SQLAlchemy's type processing)."""


@dataclass(slots=True)
class Compiled:
    """A statement as the driver receives it, for one dialect and one set of parameter names."""

    sql: str
    positions: tuple[str, ...] | None  # parameter names in placeholder order; None: the driver takes a dict
    fixed: dict[str, Any]  # values bound in the statement itself (``column == 5``)
    row: Any = None  # the named-tuple type of its rows, made from the first result's columns

    def arguments(self, params: Params) -> Sequence[Any] | Params:
        values = {**self.fixed, **params} if self.fixed else params
        if self.positions is None:
            return values
        return tuple([values[name] for name in self.positions])


_compiled: dict[tuple[int, str, tuple[str, ...]], tuple[Executable, Compiled]] = {}


def compiled(conn: Connection, statement: Executable, names: tuple[str, ...] = ()) -> Compiled:
    """``statement`` compiled for ``conn``'s dialect and the parameter ``names`` (once; statements are
    module-level constants). An INSERT or UPDATE without explicit values sets the columns named."""
    key = (id(statement), conn.dialect.name, names)
    hit = _compiled.get(key)
    if hit is not None and hit[0] is statement:
        return hit[1]
    result = _compile(conn, statement, names)
    _compiled[key] = (statement, result)  # the statement is kept, so its id is never reused
    return result


def _compile(conn: Connection, statement: Executable, names: tuple[str, ...]) -> Compiled:
    dialect = conn.dialect
    compiler = statement.compile(dialect=dialect, column_keys=list(names))  # type: ignore[attr-defined]
    if not isinstance(compiler, SQLCompiler):
        raise DriverSQLError(f"not a SQL statement: {statement!r}")
    where = " ".join(compiler.string.split())[:80]
    if compiler.insert_prefetch or compiler.update_prefetch:
        raise DriverSQLError(f"{where}: a column default is computed in Python")
    fixed: dict[str, Any] = {}
    for bind, name in compiler.bind_names.items():
        if bind.expanding:
            raise DriverSQLError(f"{where}: expanding parameter {name!r} (IN lists are not supported)")
        if not _as_is(bind.type):
            raise DriverSQLError(f"{where}: parameter {name!r} ({bind.type}) needs type processing")
        if name not in names:
            if bind.callable is not None or (bind.value is None and bind.required):
                raise DriverSQLError(f"{where}: parameter {name!r} has no value")
            fixed[name] = bind.value
    for column in getattr(statement, "exported_columns", ()):
        if not _as_is(column.type):
            raise DriverSQLError(f"{where}: column {column.key!r} ({column.type}) needs type processing")
    positions = tuple(compiler.positiontup or ()) if compiler.positional else None
    return Compiled(compiler.string, positions, fixed)


def _as_is(type_: Any) -> bool:
    """Whether the drivers take and return values of ``type_`` as Python has them (sqlite3 and psycopg
    both map int, str and bytes themselves; SQLAlchemy's processors for these only re-wrap them)."""
    if isinstance(type_, sqltypes.Enum | sqltypes.Boolean):
        return False
    return isinstance(type_, sqltypes.Integer | sqltypes.String | sqltypes.LargeBinary | sqltypes.NullType)


def run_sql(conn: Connection, sql: str, parameters: Sequence[Any] | Params = ()) -> Any:
    """Execute ``sql`` (the driver's own placeholders) in ``conn``'s transaction; returns the DBAPI
    cursor. Errors are raised as SQLAlchemy's exceptions."""
    return _on_cursor(conn, sql, parameters, many=False)


def _on_cursor(conn: Connection, sql: str, parameters: Any, *, many: bool) -> Any:
    dbapi_connection = conn.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    if conn._has_events or conn.engine._has_events:  # SQLAlchemy's own test before it fires events
        _before_cursor_execute(conn, cursor, sql, parameters, many)
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sqlalchemy_error(conn, sql, parameters, exc) from exc
    return cursor


def _before_cursor_execute(conn: Connection, cursor: Any, sql: str, parameters: Any, many: bool) -> None:
    """Fire ``before_cursor_execute`` for its listeners, if it has any: the engine's own hooks
    (``connect``, ``begin``) make it "have events" too. Without listeners on the connection itself,
    the engine's list is asked directly (the connection's joined view is built anew on each access)."""
    dispatch = conn.dispatch if conn._has_events else conn.engine.dispatch
    listeners = dispatch.before_cursor_execute
    if listeners:
        listeners(conn, cursor, sql, parameters, None, many)


def sqlalchemy_error(conn: Connection, sql: str, parameters: Any, error: Exception) -> StatementError:
    """The driver's ``error`` as SQLAlchemy raises it (``IntegrityError`` …), naming the statement."""
    return DBAPIError.instance(sql, parameters, error, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect)


# One name for every savepoint: SQLite and PostgreSQL release or roll back to the newest savepoint of
# that name, which is always the innermost open block; and the statements stay in sqlite3's cache.
_SAVEPOINT = "earnloop_savepoint"


@contextmanager
def savepoint(conn: Connection) -> Iterator[None]:
    """A savepoint around the block, in ``conn``'s transaction: released when the block ends, rolled
    back when it raises (the exception goes on). What ``conn.begin_nested()`` does, without its cost."""
    run_sql(conn, f"SAVEPOINT {_SAVEPOINT}")
    try:
        yield
    except BaseException:
        run_sql(conn, f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        run_sql(conn, f"RELEASE SAVEPOINT {_SAVEPOINT}")
        raise
    run_sql(conn, f"RELEASE SAVEPOINT {_SAVEPOINT}")


def run_many(conn: Connection, sql: str, rows: Sequence[Sequence[Any]] | Sequence[Params]) -> Any:
    """Execute ``sql`` once per parameter row (``executemany``); returns the DBAPI cursor."""
    return _on_cursor(conn, sql, rows, many=True)


def execute(conn: Connection, statement: Executable, params: Params | None = None) -> Any:
    """Run ``statement`` with ``params``; returns the DBAPI cursor (its ``rowcount``)."""
    _, cursor = _run(conn, statement, params or {})
    return cursor


def _run(conn: Connection, statement: Executable, params: Params) -> tuple[Compiled, Any]:
    plan = compiled(conn, statement, tuple(params))
    return plan, run_sql(conn, plan.sql, plan.arguments(params))


def rows(conn: Connection, statement: Executable, params: Params | None = None) -> list[Any]:
    """Every row ``statement`` returns, as named tuples."""
    plan, cursor = _run(conn, statement, params or {})
    make = _row_type(plan, cursor)._make
    return [make(values) for values in cursor.fetchall()]


def first(conn: Connection, statement: Executable, params: Params | None = None) -> Any:
    """The first row ``statement`` returns (a named tuple), or ``None``."""
    plan, cursor = _run(conn, statement, params or {})
    make = _row_type(plan, cursor)._make
    values = cursor.fetchone()
    cursor.close()
    return None if values is None else make(values)


def scalar(conn: Connection, statement: Executable, params: Params | None = None) -> Any:
    """The first column of the first row, or ``None`` when there is no row."""
    _, cursor = _run(conn, statement, params or {})
    values = cursor.fetchone()
    cursor.close()
    return None if values is None else values[0]


def scalars(conn: Connection, statement: Executable, params: Params | None = None) -> list[Any]:
    """The first column of every row."""
    _, cursor = _run(conn, statement, params or {})
    return [values[0] for values in cursor.fetchall()]


def _row_type(plan: Compiled, cursor: Any) -> Any:
    if plan.row is None:
        if cursor.description is None:
            raise DriverSQLError(f"{plan.sql[:80]}: returns no rows")
        plan.row = namedtuple("Row", [column[0] for column in cursor.description], rename=True)  # type: ignore[misc]
    return plan.row
