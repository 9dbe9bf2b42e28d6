"""The risk engine in the shopping path, over real HTTP on SQLite and PostgreSQL: a conversion the
strategy blocks pays nothing, its partner is told to stop (the same 403 for every retry), and the order's
later updates move no money either."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.models import risk_decisions
from earnloop.risk.rules import Rule, Strategy
from tests.integration.affiliate import support as shop

BIG_ORDERS = Strategy(
    "big-orders-1", (Rule("big_order", 'kind == "conversion" && amount > 50000', "block", 100),)
)


@pytest.mark.parametrize("risk", [BIG_ORDERS], indirect=True)
def test_a_denied_conversion_pays_nothing_and_tells_the_partner_to_stop(
    api: httpx.Client, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    w = shop.make_world(db, ledger, clock)
    shop.register_secret(api, w.merchant_id)
    click_id = shop.click(api, w)
    first = shop.postback(api, clock, w.merchant_id, shop.update("o-1", click_id, "pending", 90_000))
    assert first.status_code == 403, first.text
    assert first.json()["reason_code"] == "risk_denied"
    again = shop.postback(api, clock, w.merchant_id, shop.update("o-1", click_id, "pending", 90_000))
    assert (again.status_code, again.content) == (403, first.content)
    approved = shop.postback(api, clock, w.merchant_id, shop.update("o-1", click_id, "approved", 90_000))
    assert approved.status_code == 200, approved.text
    assert approved.json()["reward"] == 0
    small = shop.postback(api, clock, w.merchant_id, shop.update("o-2", shop.click(api, w), "pending", 1_000))
    assert small.status_code == 200, small.text
    assert shop.money(api, w) == (100, 0, 0)  # 5% of the small order, 2x: only it earned
    with db.uow(write=False) as conn:
        rows = conn.execute(select(risk_decisions.c.decision, risk_decisions.c.reasons)).all()
    assert sorted(rows) == [("allow", ""), ("deny", "big_order")]
