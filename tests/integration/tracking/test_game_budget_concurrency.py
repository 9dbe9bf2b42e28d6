"""A 2x campaign with a small budget under 32 concurrent milestone postbacks (32 users, 32 threads, real
HTTP, SQLite and PostgreSQL): every postback gets the provider's success reply (the base reward is paid
even when the bonus is not), the budget account never goes below zero, the bonuses paid never exceed
the budget — ``all_or_nothing`` pays exactly as many whole bonuses as fit, ``pay_partial`` uses the
budget exactly up to its end — and the campaign uses recorded are exactly the bonuses paid."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import func, select

from earnloop.auth.service import create_user
from earnloop.catalog import service as catalog
from earnloop.catalog.models import catalog_usage_refs
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.tracking.models import tracking_conversions
from earnloop.wallet.cashback.models import cashback_entries
from earnloop.wallet.ledger_ops import balance_of
from tests.integration.tracking.support import click, event, make_world, postback, register_secret

USERS = 32
BASE = 100  # lv5; the 2x campaign wants a bonus of 100 more
FUNDED = 1_050  # 10 whole bonuses and half of one


def _budget_available(db: Database, ledger: LedgerService, campaign_id: int) -> int:
    with db.uow(write=False) as conn:
        account = balance_of(conn, ledger, catalog.budget_account(campaign_id, "TWD"))
    assert account is not None
    return account.credits_posted - account.debits_posted - account.debits_pending


@contextmanager
def watching_budget(db: Database, ledger: LedgerService, campaign_id: int) -> Iterator[list[int]]:
    """Samples the budget account's available balance in the background while the block runs."""
    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(_budget_available(db, ledger, campaign_id))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield seen
    finally:
        done.set()
        watcher.join()
    seen.append(_budget_available(db, ledger, campaign_id))


@pytest.mark.parametrize("mode", ["all_or_nothing", "pay_partial"])
def test_32_concurrent_postbacks_never_overspend_the_budget(
    api: httpx.Client, db: Database, ledger: LedgerService, clock: ManualClock, mode: str
) -> None:
    world = make_world(db, ledger, clock, budget_mode=mode, funded=FUNDED)
    register_secret(api, publisher_id=world.publisher_id)
    with db.uow() as conn:
        tokens = [world.token, *(create_user(conn, f"player-{i}").secret for i in range(1, USERS))]
    clicks = [click(api, world, token=token) for token in tokens]
    start = threading.Barrier(USERS)

    def send(i: int) -> httpx.Response:
        start.wait()
        return postback(api, clock, event(f"txn-{i}", clicks[i], "lv5"))

    with watching_budget(db, ledger, world.campaign_id) as seen, ThreadPoolExecutor(USERS) as pool:
        replies = list(pool.map(send, range(USERS)))

    assert [(r.status_code, r.content) for r in replies] == [(200, b'{"status":"ok"}')] * USERS
    assert min(seen) >= 0
    with db.uow(write=False) as conn:
        bonuses = sorted(
            conn.execute(
                select(cashback_entries.c.amount).where(cashback_entries.c.ref.like("%:bonus:%"))
            ).scalars(),
            reverse=True,
        )
        bases = conn.execute(
            select(func.count(), func.sum(cashback_entries.c.amount)).where(
                cashback_entries.c.ref.not_like("%:bonus:%")
            )
        ).one()
        uses = sorted(
            conn.execute(
                select(catalog_usage_refs.c.amount).where(catalog_usage_refs.c.subject == "campaign")
            ).scalars(),
            reverse=True,
        )
        credited = conn.execute(select(func.sum(tracking_conversions.c.amount))).scalar_one()
    assert tuple(bases) == (USERS, USERS * BASE)  # every user got the base reward
    assert sum(bonuses) <= FUNDED
    if mode == "all_or_nothing":
        assert bonuses == [BASE] * (FUNDED // BASE)
        assert seen[-1] == FUNDED % BASE
    else:
        assert bonuses == [BASE] * (FUNDED // BASE) + [FUNDED % BASE]
        assert seen[-1] == 0
    assert uses == bonuses  # the caps count exactly the bonuses paid, with their amounts
    assert credited == USERS * BASE + sum(bonuses)
