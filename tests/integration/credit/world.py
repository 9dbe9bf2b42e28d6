"""A small credit world on both databases: a merchant with a car deposit policy, a user with a long,
clean history and a funded wallet (``good``), a new user whose cashback was clawed back into debt
(``risky``), and the honest model registered by one operator and approved by another. Its ledger runs on
a manual clock that starts at the wall clock, so that rows and transfers share one timeline."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from earnloop.auth.service import create_partner, create_user
from earnloop.credit import registry
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.wallet import service as wallet
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.chart import AccountKind
from earnloop.wallet.holds import service as holds
from tests.integration.credit.honest_model import trained

DAY_NS = 86_400 * 1_000_000_000
DEPOSIT = 3_000
FUNDS = 20_000
OPERATOR = cashback.Funding(AccountKind.OPERATOR_FUNDING, 0)


class World:
    def __init__(self, db: Database, ledger: LedgerService, clock: ManualClock) -> None:
        self.db, self.ledger, self.clock = db, ledger, clock
        self._keys = itertools.count(1)
        now = time.time_ns()
        with db.uow() as conn:
            self.merchant = create_partner(conn, "car-share", "merchant", "TWD")
            self.users = {
                "good": create_user(conn, "steady-driver", now_ns=now - 400 * DAY_NS),
                "risky": create_user(conn, "new-driver", now_ns=now - 3 * DAY_NS),
            }
            self.good, self.risky = self.users["good"].id, self.users["risky"].id
            for user in (self.good, self.risky):
                wallet.open_wallet(conn, ledger, user, "TWD")
            self.credit(conn, self.good, FUNDS)
            holds.set_policy(
                conn,
                product="sedan",
                currency_code="TWD",
                partner_id=self.merchant.id,
                amount=DEPOSIT,
                min_credit_score=None,
            )
        self.earn(self.good, 500, "g-1")
        self.earn(self.risky, 1_000, "r-1")
        self.do(lambda c: self.credit(c, self.risky, 1_000, direction="debit"))  # spent it
        self.do(lambda c: cashback.reverse(c, ledger, source="shopping", ref="r-1"))  # → debt

    def key(self) -> str:
        return f"k-{next(self._keys)}"

    def do(self, action: Callable[[Connection], Any]) -> Any:
        with self.db.uow() as conn:
            return action(conn)

    def credit(self, conn: Connection, user: int, amount: int, direction: str = "credit") -> None:
        wallet.adjust(
            conn,
            self.ledger,
            idempotency_key=self.key(),
            user_id=user,
            currency_code="TWD",
            amount=amount,
            direction=direction,
            reason="test",
            actor="test",
        )

    def earn(self, user: int, amount: int, ref: str) -> None:
        """Cashback released at once (confirmed by the worker's sweep)."""
        now = self.clock.now_ns()
        self.do(
            lambda c: cashback.credit_pending(
                c,
                self.ledger,
                source="shopping",
                ref=ref,
                user_id=user,
                currency_code="TWD",
                amount=amount,
                release_at_ns=now,
                funding=OPERATOR,
            )
        )
        self.do(lambda c: cashback.confirm_due(c, self.ledger, now))

    def now(self) -> int:
        """A moment after everything so far, on both clocks (rows' wall clock and the ledger's)."""
        at = max(time.time_ns(), self.clock.now_ns() + 1_000_000)  # past the ledger's last stamp
        self.clock.advance(ns=at - self.clock.now_ns() + 1_000)
        while time.time_ns() <= at:  # rows stamped by the wall clock from now on come after it
            time.sleep(0.001)
        return at

    def approved_model(self, author: str = "ana", approver: str = "ben") -> int:
        model, rows = trained()
        window = registry.Window(1, self.now())
        metrics = {"auc": 0.8, "ks": 0.5}
        info = self.do(lambda c: registry.register(c, model, window, metrics, author, training=rows))
        self.do(lambda c: registry.approve(c, info.version, approver))
        return int(info.version)


def manual_clock() -> ManualClock:
    return ManualClock(start_ns=time.time_ns())


def make_world(db: Database) -> World:
    clock = manual_clock()
    return World(db, LedgerService(clock), clock)
