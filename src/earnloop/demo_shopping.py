"""The demo's shoppers: day-one players who click a partner merchant and buy, each purchase reported by
the merchant's affiliate partner in signed ``Earnloop-Signature`` conversion postbacks handled by the
real engine (``affiliate.postbacks.handle_postback``, called through ``earnloop.sim.adapter``) — then
some approved, a few partly refunded and one reversed, as partners report them. Every reward stays
pending for the merchant's lock period.

Deterministic (a fixed seed) and idempotent: the shopping day runs in one transaction and is skipped
once its first order exists. Each merchant's postback secret is random and lives in the database only.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from earnloop.affiliate.models import affiliate_conversions
from earnloop.auth.models import users
from earnloop.catalog import service as catalog
from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine
from earnloop.secretbox import process_box
from earnloop.sim import adapter
from earnloop.sim.adapter import Origin

SEED = 20_261_205
SHOPPER_SHARE = 0.4  # of the day-one players
SHOPPER = Origin(
    "demo-shopper-phone", "198.51.100.21", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)"
)


@dataclass(frozen=True)
class Purchase:
    """One order: who bought where, for how much, and what the partner reports after the first
    ``pending``: ``approved``, ``approved`` with a partial refund down to ``refunded_to``, or
    ``reversed``."""

    handle: str
    merchant_key: str
    order_id: str
    amount: int
    category: str
    later: str  # "" | "approved" | "refund" | "reversed"
    refunded_to: int


def purchases(shoppers: Sequence[str], merchants: dict[str, dict[str, object]]) -> list[Purchase]:
    """Who buys what (deterministic): ``merchants`` maps a merchant key to its rates by category."""
    rng = random.Random(SEED)
    answer = []
    for number, handle in enumerate(s for s in shoppers if rng.random() < SHOPPER_SHARE):
        key = rng.choice(sorted(merchants))
        amount = rng.randrange(200, 8_000) * 10
        later = rng.choices(["", "approved", "refund", "reversed"], weights=[5, 8, 2, 1])[0]
        answer.append(
            Purchase(
                handle=handle,
                merchant_key=key,
                order_id=f"DEMO-{number + 1:04d}",
                amount=amount,
                category=rng.choice(sorted(merchants[key])),
                later=later,
                refunded_to=amount // 2 if later == "refund" else amount,
            )
        )
    return answer


def shop(db: Database, ledger: LedgerService, shoppers: Sequence[str], risk: RiskEngine) -> int:
    """Run the shopping day once; returns how many orders it reported (0 when already done)."""
    with db.uow() as conn:
        merchants = {m["key"]: m for m in catalog.list_merchants(conn)}
        plan = purchases(shoppers, {k: dict(m["rates"]) for k, m in merchants.items()})
        if not plan or _done(conn, plan[0].order_id):
            return 0
        for purchase in plan:
            _buy(conn, ledger, risk, purchase, merchants[purchase.merchant_key]["merchant_id"])
    return len(plan)


def _done(conn: Connection, order_id: str) -> bool:
    query = select(affiliate_conversions.c.id).where(affiliate_conversions.c.order_id == order_id)
    return conn.execute(query).first() is not None


def _buy(
    conn: Connection, ledger: LedgerService, risk: RiskEngine, purchase: Purchase, merchant_id: int
) -> None:
    user_id = conn.execute(select(users.c.id).where(users.c.handle == purchase.handle)).scalar_one()
    now = ledger.clock.now_ns()
    click_id, _ = adapter.click_merchant(conn, user_id, merchant_id, SHOPPER, now)
    secret = adapter.merchant_secret(conn, process_box(), merchant_id, now)
    _report(conn, ledger, risk, secret, merchant_id, purchase, click_id, "pending", purchase.amount)
    if purchase.later == "refund":
        _report(conn, ledger, risk, secret, merchant_id, purchase, click_id, "approved", purchase.refunded_to)
    elif purchase.later:
        _report(conn, ledger, risk, secret, merchant_id, purchase, click_id, purchase.later, purchase.amount)


def _report(
    conn: Connection,
    ledger: LedgerService,
    risk: RiskEngine,
    secret: str,
    merchant_id: int,
    purchase: Purchase,
    click_id: str,
    status: str,
    amount: int,
) -> None:
    """The partner's signed postback for one update; the engine must accept it."""
    done = adapter.merchant_report(
        conn,
        ledger,
        risk,
        process_box(),
        secret,
        merchant_id=merchant_id,
        order_id=purchase.order_id,
        click_id=click_id,
        status=status,
        order_amount=amount,
        category=purchase.category,
        now_ns=ledger.clock.now_ns(),
    )
    if done.outcome != adapter.ACCEPTED:
        raise RuntimeError(f"demo conversion {purchase.order_id} ({status}) was not accepted: {done.outcome}")
