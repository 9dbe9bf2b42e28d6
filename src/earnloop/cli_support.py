"""What every ``earnloop`` sub-command shares: one-line errors, the migrated database, a transaction.

A base module (ADR 0022): it knows domain errors only as :class:`earnloop.errors.DomainError` and imports
no domain. Commands that move money take their ledger from :mod:`earnloop.ledger.cli`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from sqlalchemy import Connection

from earnloop.config import Settings, get_settings
from earnloop.db.engine import Database, database_from_settings
from earnloop.db.migrate import SchemaBehindError, require_current_schema
from earnloop.errors import DomainError
from earnloop.secretbox import SecretBox, SecretBoxError, box_from_settings

out = Console()
# Errors a command reports as one line (exit 1) rather than a traceback: every domain's, and a bad key.
EXPECTED_ERRORS = (DomainError, SecretBoxError)


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
def transaction(*, write: bool = True) -> Iterator[Connection]:
    """A transaction on the ready database; domain errors → one line (exit 1), nothing committed."""
    db = ready_database()
    try:
        with db.uow(write=write) as conn:
            yield conn
    except EXPECTED_ERRORS as exc:
        fail(str(exc))
    finally:
        db.dispose()
