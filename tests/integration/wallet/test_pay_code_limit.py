"""A pay code capped at what the user authorised (``max_amount``): a merchant charging more is refused,
nothing moves and the code stays usable for a smaller charge; in another currency the cap bounds what
leaves the wallet after FX. Over HTTP the refusal is 422 ``pay-code-limit``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, select

from earnloop.auth.service import create_partner, create_user
from earnloop.currencies import currency
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.wallet import service
from earnloop.wallet.errors import InvalidAmountError
from earnloop.wallet.fx import service as fx
from earnloop.wallet.pay import service as pay
from earnloop.wallet.pay.models import pay_codes
from tests.integration.wallet.test_pay import (
    RISK,
    _fails_unchanged,
    _funded_customer_and_shop,
    _problem,
    _setup,
    _snapshot,
)


def _charge(
    ledger: LedgerService, merchant_id: int, code: str, ref: str, amount: int
) -> Callable[[Connection], dict[str, Any]]:
    return lambda conn: pay.charge_pay_code(
        conn,
        ledger,
        idempotency_key=f"key-{ref}",
        merchant_id=merchant_id,
        code=code,
        merchant_order_id=ref,
        amount=amount,
        risk=RISK,
    )


def _code_states(db: Database) -> list[str]:
    with db.uow(write=False) as conn:
        return list(conn.execute(select(pay_codes.c.state).order_by(pay_codes.c.id)).scalars())


def test_a_charge_above_the_cap_is_refused_and_the_code_still_pays_a_smaller_one(
    db: Database, ledger: LedgerService
) -> None:
    user_id, merchant_id = _setup(db, ledger, funds=10_000)
    ids = (user_id, merchant_id)
    with db.uow() as conn:
        issued = pay.issue_pay_code(conn, ledger, user_id=user_id, currency_code="TWD", max_amount=500)
    assert issued["max_amount"] == 500
    refused = _fails_unchanged(
        db, ledger, ids, _charge(ledger, merchant_id, issued["code"], "till-1", 501), pay.PayCodeLimitError
    )
    assert "pays up to 5.00 TWD" in str(refused)
    assert _code_states(db) == ["active"]
    with db.uow() as conn:
        paid = _charge(ledger, merchant_id, issued["code"], "till-1", 500)(conn)
    assert (paid["state"], paid["amount"]) == ("paid", 500)
    assert _snapshot(db, ledger, *ids)["wallet"] == (9_500, 0)
    assert _code_states(db) == ["used"]


def test_a_code_without_a_cap_pays_any_amount_and_a_bad_cap_is_refused(
    db: Database, ledger: LedgerService
) -> None:
    user_id, merchant_id = _setup(db, ledger, funds=10_000)
    for bad in (0, -1, True, 1 << 63):
        with pytest.raises(InvalidAmountError, match="max_amount"), db.uow() as conn:
            pay.issue_pay_code(conn, ledger, user_id=user_id, currency_code="TWD", max_amount=bad)
    assert _code_states(db) == []
    with db.uow() as conn:
        issued = pay.issue_pay_code(conn, ledger, user_id=user_id, currency_code="TWD")
        paid = _charge(ledger, merchant_id, issued["code"], "till-1", 9_999)(conn)
    assert (issued["max_amount"], paid["state"]) == (None, "paid")


def test_the_cap_bounds_what_leaves_the_wallet_after_conversion(
    db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    with db.uow() as conn:
        user_id = create_user(conn, "traveller").id
        service.open_wallet(conn, ledger, user_id, "USD")
        service.adjust(
            conn,
            ledger,
            idempotency_key="fund-usd",
            user_id=user_id,
            currency_code="USD",
            amount=5_000,
            direction="credit",
            reason="test funds",
            actor="test",
        )
        merchant_id = create_partner(conn, "Night Market", "merchant", "TWD").id
        fx.set_rate(conn, base="USD", quote="TWD", rate="30", valid_from_ns=clock.now_ns() - 1, spread_bps=0)
        issued = pay.issue_pay_code(conn, ledger, user_id=user_id, currency_code="USD", max_amount=1_000)
    with db.uow(write=False) as conn:
        cost = fx.payment_cost(conn, currency("USD"), currency("TWD"), 30_100, clock.now_ns())
    assert cost.cost(30_100) > 1_000  # NT$301 costs more than the US$10 the code pays
    with pytest.raises(pay.PayCodeLimitError, match=r"pays up to 10\.00 USD"), db.uow() as conn:
        _charge(ledger, merchant_id, issued["code"], "stall-1", 30_100)(conn)
    with db.uow() as conn:
        paid = _charge(ledger, merchant_id, issued["code"], "stall-2", 3_000)(conn)
        left = service.view(conn, ledger, user_id, "USD").available
    assert (paid["state"], paid["pay_currency"]) == ("paid", "USD")
    taken = paid["pay_amount"]
    assert taken is not None
    assert taken <= 1_000
    assert left == 5_000 - taken


def test_over_http_a_capped_code_refuses_more_with_422_and_then_pays(api: httpx.Client) -> None:
    with _funded_customer_and_shop(api, "cap", "Cap Tea") as (me, shop, _shop_id):
        zero = me.post("/v1/me/pay-codes", json={"currency": "TWD", "max_amount": 0})
        _problem(zero, 422, "validation-error")
        code = me.post("/v1/me/pay-codes", json={"currency": "TWD", "max_amount": 300})
        assert code.status_code == 201, code.text
        assert code.json()["max_amount"] == 300
        charge = {"code": code.json()["code"], "order_id": "cap-1", "amount": 301}
        url = "/v1/merchant/pay-codes/charge"
        over = shop.post(url, json=charge, headers={"Idempotency-Key": "cap-k1"})
        _problem(over, 422, "pay-code-limit")
        assert "pays up to 3.00 TWD" in over.json()["detail"]
        assert me.get("/v1/me/wallets/TWD").json()["available"] == 1_000
        paid = shop.post(url, json={**charge, "amount": 300}, headers={"Idempotency-Key": "cap-k2"})
        uncapped = me.post("/v1/me/pay-codes", json={"currency": "TWD"})
        wallet = me.get("/v1/me/wallets/TWD").json()
    assert (paid.status_code, paid.json()["amount"]) == (200, 300)
    assert uncapped.json()["max_amount"] is None
    assert wallet["available"] == 700
