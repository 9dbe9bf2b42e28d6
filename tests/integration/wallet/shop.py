"""The TWD set-up the escrow and deposit-hold tests share: a merchant, another merchant, a charity, a funded
user and an unfunded one — plus the helpers both use (fresh idempotency keys, a unit of work, the events)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select

from earnloop.auth.service import create_partner, create_user
from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService
from earnloop.outbox.models import outbox_events
from earnloop.wallet import service

FUNDS = 10_000


class Shop:
    """A merchant, another merchant, a charity, a buyer funded with ``FUNDS`` and an unfunded stranger."""

    MERCHANT = "bike-shop"
    OTHER_MERCHANT = "other-shop"
    BUYER = "buyer"
    STRANGER = "stranger"
    FUND_KEY = "fund-buyer"

    def __init__(self, db: Database, ledger: LedgerService) -> None:
        self.db, self.ledger = db, ledger
        with db.uow() as conn:
            self.merchant = create_partner(conn, self.MERCHANT, "merchant", "TWD").id
            self.other_merchant = create_partner(conn, self.OTHER_MERCHANT, "merchant", "TWD").id
            self.charity = create_partner(conn, "charity", "charity", "TWD").id
            self.buyer = create_user(conn, self.BUYER).id
            self.stranger = create_user(conn, self.STRANGER).id
            for user in (self.buyer, self.stranger):
                service.open_wallet(conn, ledger, user, "TWD")
            service.adjust(
                conn,
                ledger,
                idempotency_key=self.FUND_KEY,
                user_id=self.buyer,
                currency_code="TWD",
                amount=FUNDS,
                direction="credit",
                reason="test funds",
                actor="test",
            )
            self.set_up(conn)
        self._keys = 0

    def set_up(self, conn: Connection) -> None:
        """More set-up in the same transaction (for subclasses)."""

    def key(self) -> str:
        self._keys += 1
        return f"k-{self._keys}"

    def do(self, action: Callable[[Connection], Any]) -> Any:
        with self.db.uow() as conn:
            return action(conn)

    def events(self) -> list[dict[str, Any]]:
        with self.db.uow(write=False) as conn:
            rows = conn.execute(select(outbox_events).order_by(outbox_events.c.seq)).all()
        return [{"partner_id": r.partner_id, "topic": r.topic, **json.loads(r.payload)} for r in rows]
