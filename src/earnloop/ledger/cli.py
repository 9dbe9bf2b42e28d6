"""The ledger of every domain's ``earnloop`` commands: :func:`unit_of_work` is a transaction on the ready
database plus a :class:`LedgerService` on the system clock, :func:`run` runs one action in it. Domain
errors become one line on stderr (:func:`earnloop.cli_support.transaction`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection

from earnloop.cli_support import transaction
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.service import LedgerService

T = TypeVar("T")


@contextmanager
def unit_of_work(*, write: bool = True) -> Iterator[tuple[Connection, LedgerService]]:
    """A transaction on the ready database and a ledger on the system clock; domain errors → one line."""
    with transaction(write=write) as conn:
        yield conn, LedgerService(SystemClock())


def run(action: Callable[[Connection, LedgerService], T], *, write: bool = True) -> T:
    with unit_of_work(write=write) as (conn, ledger):
        return action(conn, ledger)
