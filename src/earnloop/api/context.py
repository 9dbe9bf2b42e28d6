"""What a request can reach: settings, database, services and metrics, built once per app; and how an
async route or dependency runs a unit of work: a write (:func:`run_write`) or a read (:func:`run_read`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from fastapi import Request
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.db.group_commit import GroupCommitter
from earnloop.ledger.service import LedgerService
from earnloop.observability import Metrics
from earnloop.risk.engine import RiskEngine
from earnloop.secretbox import SecretBox

T = TypeVar("T")


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    db: Database
    ledger: LedgerService
    metrics: Metrics
    admin_token: str | None
    box: SecretBox  # seals and opens secrets stored at rest (ADR 0019)
    risk: RiskEngine  # screens every money event (ADR 0024)
    group_commit: GroupCommitter | None = None  # SQLite only (see ``run_write``)


def app_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def run_write(ctx: AppContext, work: Callable[[Connection], T]) -> T:
    """Run ``work`` — short, SQL only — in a write unit of work. On SQLite it goes through the app's
    group committer: the writes that reach the event loop together share one transaction (each in its
    own savepoint), run on the loop's thread when SQLite's write lock is free at once, or else on the
    committer's writer thread, which waits for it (ADR 0014). On PostgreSQL, whose writers run side by
    side, in a transaction of its own on the threadpool. Either way the result (or ``work``'s
    exception) comes back only after the commit."""
    if ctx.group_commit is not None:
        return await ctx.group_commit.run(work)
    return await run_in_threadpool(_in_own_transaction, ctx.db, work)


def _in_own_transaction(db: Database, work: Callable[[Connection], T], write: bool = True) -> T:
    with db.uow(write=write) as conn:
        return work(conn)


async def run_read(ctx: AppContext, work: Callable[[Connection], T]) -> T:
    """Run ``work`` — short, SQL only — in a read-only unit of work. On SQLite right here on the event
    loop: in WAL mode a reader takes no lock that a writer holds, and the pool never makes it wait for
    a connection, so nothing here waits (ADR 0015). On PostgreSQL, a network round trip away, on the
    threadpool."""
    if ctx.db.is_sqlite:
        return _in_own_transaction(ctx.db, work, write=False)
    return await run_in_threadpool(_in_own_transaction, ctx.db, work, False)
