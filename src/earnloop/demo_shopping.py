"""The demo's shoppers: day-one players who click a partner merchant and buy, each purchase reported by
the merchant's affiliate partner in signed ``Earnloop-Signature`` conversion postbacks handled by the
real engine (``affiliate.postbacks.handle_postback``) — then some approved, a few partly refunded and
one reversed, as partners report them. Every reward stays pending for the merchant's lock period.

Deterministic (a fixed seed) and idempotent: the shopping day runs in one transaction and is skipped
once its first order exists. Each merchant's postback secret is random and lives in the database only.
"""

from __future__ import annotations

import json
import random
import secrets as token_source
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from earnloop.affiliate import postbacks
from earnloop.affiliate import service as affiliate
from earnloop.affiliate.models import affiliate_conversions
from earnloop.auth.models import users
from earnloop.catalog import service as catalog
from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine
from earnloop.tracking.verifiers import GENERIC_SIGNATURE_HEADER, RawPostback, sign_generic

SEED = 20_261_205
SHOPPER_SHARE = 0.4  # of the day-one players
PARTNER_IP = "203.0.113.9"  # TEST-NET-3: the affiliate partners' servers
SHOPPER_AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)"
SHOPPER_IP = "198.51.100.21"


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
            _buy(conn, ledger, purchase, merchants[purchase.merchant_key]["merchant_id"], risk)
    return len(plan)


def _done(conn: Connection, order_id: str) -> bool:
    query = select(affiliate_conversions.c.id).where(affiliate_conversions.c.order_id == order_id)
    return conn.execute(query).first() is not None


def _buy(
    conn: Connection, ledger: LedgerService, purchase: Purchase, merchant_id: int, risk: RiskEngine
) -> None:
    user_id = conn.execute(select(users.c.id).where(users.c.handle == purchase.handle)).scalar_one()
    now = ledger.clock.now_ns()
    click = affiliate.record_click(
        conn,
        user_id=user_id,
        merchant_id=merchant_id,
        user_agent=SHOPPER_AGENT,
        client_ip=SHOPPER_IP,
        now_ns=now,
    )
    secret = _secret(conn, merchant_id, now)
    report = {
        "order_id": purchase.order_id,
        "click_id": click["click_id"],
        "order_amount": purchase.amount,
        "currency": "TWD",
        "category": purchase.category,
        "event_time": datetime.fromtimestamp(now / 10**9, UTC).isoformat(),
    }
    _report(conn, ledger, risk, merchant_id, secret, {**report, "status": "pending"})
    if purchase.later == "refund":
        refund = {"status": "approved", "order_amount": purchase.refunded_to}
        _report(conn, ledger, risk, merchant_id, secret, {**report, **refund})
    elif purchase.later:
        _report(conn, ledger, risk, merchant_id, secret, {**report, "status": purchase.later})


def _secret(conn: Connection, merchant_id: int, now_ns: int) -> str:
    active = affiliate.active_secrets(conn, merchant_id)
    if active:
        return active[0]
    secret = token_source.token_urlsafe(32)
    affiliate.set_secret(conn, merchant_id=merchant_id, secret=secret, active=True, now_ns=now_ns)
    return secret


def _report(
    conn: Connection,
    ledger: LedgerService,
    risk: RiskEngine,
    merchant_id: int,
    secret: str,
    update: dict[str, object],
) -> None:
    """The partner's signed postback for one update; the engine must accept it."""
    now = ledger.clock.now_ns()
    body = json.dumps(update).encode()
    raw = RawPostback(
        method="POST",
        path=f"/affiliate/postbacks/{merchant_id}",
        query_string="",
        headers={GENERIC_SIGNATURE_HEADER: sign_generic(secret, body, now // 10**9)},
        body=body,
        client_ip=PARTNER_IP,
    )
    reply = postbacks.handle_postback(conn, ledger, raw, merchant_id=merchant_id, now_ns=now, risk=risk)
    if reply.status != 200:
        raise RuntimeError(f"demo conversion {update['order_id']} was rejected: {reply.body[:300]!r}")
