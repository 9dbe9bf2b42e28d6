"""What every ``earnloop`` sub-command shares: one-line errors, the migrated database, the services."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn, TypeVar

import typer
from rich.console import Console
from sqlalchemy import Connection

from earnloop.auth.service import AuthError
from earnloop.config import Settings, get_settings
from earnloop.db.engine import Database, database_from_settings
from earnloop.db.migrate import SchemaBehindError, require_current_schema
from earnloop.idempotency.service import IdempotencyError
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.service import LedgerService
from earnloop.secretbox import SecretBox, SecretBoxError, box_from_settings
from earnloop.wallet.currencies import UnknownCurrencyError
from earnloop.wallet.errors import WalletError

out = Console()
T = TypeVar("T")
# Domain errors a command reports as one line (exit 1) rather than a traceback.
EXPECTED_ERRORS = (WalletError, IdempotencyError, AuthError, UnknownCurrencyError, SecretBoxError)


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, non-zero exit."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def database(settings: Settings | None = None) -> Database:
    return database_from_settings(settings or get_settings())


def secret_box(settings: Settings | None = None) -> SecretBox:
    """The configured secret box (``EARNLOOP_SECRETS_KEYS``); a missing or bad key is one line."""
    try:
        return box_from_settings(settings or get_settings())
    except SecretBoxError as exc:
        fail(str(exc))


def ready_database() -> Database:
    """The configured database, refusing (one line, exit 1) when its schema is behind."""
    db = database()
    try:
        require_current_schema(db)
    except SchemaBehindError as exc:
        fail(str(exc))
    return db


@contextmanager
def unit_of_work(*, write: bool = True) -> Iterator[tuple[Connection, LedgerService]]:
    """A transaction on the ready database plus a ledger on the system clock; domain errors → one line."""
    db = ready_database()
    try:
        with db.uow(write=write) as conn:
            yield conn, LedgerService(SystemClock())
    except EXPECTED_ERRORS as exc:
        fail(str(exc))
    finally:
        db.dispose()


def run(action: Callable[[Connection, LedgerService], T], *, write: bool = True) -> T:
    with unit_of_work(write=write) as (conn, ledger):
        return action(conn, ledger)
