"""FX on both databases: exact decimal rates with validity times, conversions as linked transfers through
the FX position accounts (floored in the platform's favour), payments from a foreign-currency wallet that
settle to the merchant in its currency, refunds of those; every failure changes nothing; and over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, func, select

from earnloop.auth.service import create_partner, create_user
from earnloop.currencies import UnknownCurrencyError, currency
from earnloop.db.engine import Database
from earnloop.idempotency.service import IdempotencyConflictError
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import memory_engine, shadowed_default
from earnloop.wallet import service
from earnloop.wallet.chart import AccountKind, AccountRef
from earnloop.wallet.errors import (
    InsufficientFundsError,
    InvalidAmountError,
    NotFoundError,
    StateConflictError,
)
from earnloop.wallet.fx import service as fx
from earnloop.wallet.fx.models import fx_conversions, fx_rates
from earnloop.wallet.ledger_ops import balance_of
from earnloop.wallet.pay import service as pay
from earnloop.wallet.pay.models import pay_orders
from tests.integration.wallet_support import fund_wallet as _fund

USD, TWD = currency("USD"), currency("TWD")
NS = 1_000_000_000
RISK = memory_engine(strategies=shadowed_default)  # screened, decided by allow-all (default in shadow)


def _rate(conn: Connection, base: str, quote: str, rate: str, valid_from_ns: int, spread: int = 100) -> Any:
    return fx.set_rate(
        conn, base=base, quote=quote, rate=rate, valid_from_ns=valid_from_ns, spread_bps=spread
    )


def _net(conn: Connection, ledger: LedgerService, ref: AccountRef) -> int:
    account = balance_of(conn, ledger, ref)
    return 0 if account is None else account.credits_posted - account.debits_posted


def _snapshot(db: Database, ledger: LedgerService, user_id: int) -> dict[str, Any]:
    with db.uow(write=False) as conn:
        wallets = {
            cur.code: _net(conn, ledger, service.user_account(user_id, cur))
            for cur in (USD, TWD, currency("JPY"))
        }
        positions = {
            cur.code: _net(conn, ledger, AccountRef(AccountKind.FX_POSITION, 0, cur)) for cur in (USD, TWD)
        }
        return {
            "wallets": wallets,
            "positions": positions,
            "rates": conn.execute(select(func.count()).select_from(fx_rates)).scalar_one(),
            "conversions": conn.execute(select(func.count()).select_from(fx_conversions)).scalar_one(),
            "orders": [tuple(r) for r in conn.execute(select(pay_orders).order_by(pay_orders.c.id))],
        }


def _fails_unchanged(
    db: Database,
    ledger: LedgerService,
    user_id: int,
    action: Callable[[Connection], object],
    error: type[Exception],
) -> None:
    before = _snapshot(db, ledger, user_id)
    with pytest.raises(error), db.uow() as conn:
        action(conn)
    assert _snapshot(db, ledger, user_id) == before


def test_quotes_use_the_latest_rate_in_force_either_way_and_floor(db: Database, clock: ManualClock) -> None:
    now = clock.now_ns()
    with db.uow() as conn:
        _rate(conn, "USD", "TWD", "31.5", now - 60 * NS)
        _rate(conn, "USD", "TWD", "32", now + 60 * NS)  # not yet in force
        _rate(conn, "USD", "JPY", "150.25", now, spread=0)
        usd_twd = fx.quote_amounts(conn, from_currency="USD", to_currency="TWD", amount=100, now_ns=now)
        twd_usd = fx.quote_amounts(conn, from_currency="TWD", to_currency="usd", amount=10_000, now_ns=now)
        usd_jpy = fx.quote_amounts(conn, from_currency="USD", to_currency="JPY", amount=199, now_ns=now)
        later = fx.quote_amounts(
            conn, from_currency="USD", to_currency="TWD", amount=100, now_ns=now + 60 * NS
        )
        listed = fx.list_rates(conn)
    assert (usd_twd["amount_to"], usd_twd["rate"]) == (3_118, "31.5")  # 100 × 31.5 × 0.99 = 3118.5
    assert twd_usd["amount_to"] == 314  # 100 TWD / 31.5 × 0.99 = 3.1428… USD
    assert usd_jpy["amount_to"] == 298  # 1.99 USD × 150.25 = 298.9975 JPY (no minor digits): floored
    assert later["amount_to"] == 3_168
    assert [(r["base"], r["quote"], r["rate"]) for r in listed] == [
        ("USD", "JPY", "150.25"),
        ("USD", "TWD", "32"),
        ("USD", "TWD", "31.5"),
    ]


def test_rates_are_exact_decimals_and_history(db: Database, ledger: LedgerService) -> None:
    with db.uow() as conn:
        user_id = create_user(conn, "rita").id
        first = _rate(conn, "EUR", "USD", "1.0850", 5)
        assert _rate(conn, "EUR", "USD", "1.085", 5) == first  # same row again: harmless
    assert first["rate"] == "1.085"
    for bad in ("1e3", "-1", "0", "0.000", "abc", "1.0000000000001", ""):
        _fails_unchanged(
            db, ledger, user_id, lambda c, bad=bad: _rate(c, "EUR", "USD", bad, 6), InvalidAmountError
        )
    _fails_unchanged(db, ledger, user_id, lambda c: _rate(c, "EUR", "USD", "1.09", 5), StateConflictError)
    _fails_unchanged(db, ledger, user_id, lambda c: _rate(c, "EUR", "EUR", "1", 6), InvalidAmountError)
    _fails_unchanged(db, ledger, user_id, lambda c: _rate(c, "EUR", "XXX", "1", 6), UnknownCurrencyError)
    _fails_unchanged(
        db, ledger, user_id, lambda c: _rate(c, "EUR", "USD", "1", 6, spread=5001), InvalidAmountError
    )


def test_convert_is_linked_through_fx_positions_and_idempotent(
    db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    with db.uow() as conn:
        user_id = create_user(conn, "sam").id
        _fund(conn, ledger, user_id, 10_000, "USD")
        _rate(conn, "USD", "TWD", "31.5", clock.now_ns())

    def convert(key: str, amount: int, src: str = "USD", dst: str = "TWD") -> Callable[[Connection], Any]:
        return lambda c: fx.convert(
            c, ledger, idempotency_key=key, user_id=user_id, from_currency=src, to_currency=dst, amount=amount
        )

    with db.uow() as conn:
        done = convert("x-1", 1_000)(conn)
        assert convert("x-1", 1_000)(conn) == done
        history = [(h.kind, h.amount) for h in service.history(conn, ledger, user_id, "TWD")]
    after = _snapshot(db, ledger, user_id)
    assert (done["amount_from"], done["amount_to"], done["spread_bps"]) == (1_000, 31_185, 100)
    assert after["wallets"] == {"USD": 9_000, "TWD": 31_185, "JPY": 0}
    assert after["positions"] == {"USD": 1_000, "TWD": -31_185}
    assert (after["conversions"], history) == (1, [("fx_in", 31_185)])
    _fails_unchanged(db, ledger, user_id, convert("x-1", 999), IdempotencyConflictError)
    _fails_unchanged(db, ledger, user_id, convert("x-2", 9_001), InsufficientFundsError)
    _fails_unchanged(db, ledger, user_id, convert("x-3", 100, "USD", "JPY"), fx.FxRateUnavailableError)
    _fails_unchanged(db, ledger, user_id, convert("x-4", 100, "USD", "USD"), InvalidAmountError)
    _fails_unchanged(db, ledger, user_id, convert("x-5", 100, "JPY", "USD"), NotFoundError)
    _fails_unchanged(db, ledger, user_id, convert("x-6", 0), InvalidAmountError)
    with db.uow() as conn:
        _rate(conn, "USD", "JPY", "150", clock.now_ns())
        _fund(conn, ledger, user_id, 1, "JPY")
    _fails_unchanged(db, ledger, user_id, convert("x-7", 1, "JPY", "USD"), InvalidAmountError)  # 0.66 cent


def test_payment_from_a_foreign_wallet_settles_in_the_merchants_currency(
    db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    with db.uow() as conn:
        user_id = create_user(conn, "tom").id
        _fund(conn, ledger, user_id, 1_000, "USD")
        merchant_id = create_partner(conn, "Night Market", "merchant", "TWD").id
        order = pay.create_order(
            conn, ledger, merchant_id=merchant_id, merchant_order_id="nm-1", amount=3_150
        )
        other = pay.create_order(
            conn, ledger, merchant_id=merchant_id, merchant_order_id="nm-2", amount=3_150
        )

    def confirm(key: str, order_id: int) -> Callable[[Connection], Any]:
        return lambda c: pay.confirm(
            c, ledger, idempotency_key=key, user_id=user_id, order_id=order_id, pay_currency="USD", risk=RISK
        )

    _fails_unchanged(db, ledger, user_id, confirm("c-0", order["order_id"]), fx.FxRateUnavailableError)
    with db.uow() as conn:
        _rate(conn, "TWD", "USD", "0.03", clock.now_ns(), spread=0)  # an inverse row for the pair
        _rate(conn, "USD", "TWD", "31.5", clock.now_ns() + 1)  # newer: applies
    clock.advance(seconds=1)
    with db.uow() as conn:
        paid = confirm("c-1", order["order_id"])(conn)
        settled = pay.settlement_balance(conn, ledger, merchant_id)
        revenue = _net(conn, ledger, AccountRef(AccountKind.PLATFORM_REVENUE, 0, TWD))
    mid = _snapshot(db, ledger, user_id)
    # 31.50 TWD at 31.5 × 0.99 costs ceil(101.01) = 102 cents; the merchant gets 31.50 − 1.5 % fee.
    assert (paid["pay_currency"], paid["pay_amount"], paid["fee"]) == ("USD", 102, 47)
    assert (settled["currency"], settled["balance"], revenue) == ("TWD", 3_103, 47)
    assert mid["wallets"]["USD"] == 898
    assert mid["positions"] == {"USD": 102, "TWD": -3_150}
    with db.uow() as conn:
        _fund(conn, ledger, user_id, 1, "TWD")
        pay_twd = lambda c: pay.confirm(  # noqa: E731
            c,
            ledger,
            idempotency_key="c-2",
            user_id=user_id,
            order_id=other["order_id"],
            pay_currency="TWD",
            risk=RISK,
        )
    _fails_unchanged(db, ledger, user_id, pay_twd, InsufficientFundsError)

    def refund(key: str, amount: int | None) -> Callable[[Connection], Any]:
        return lambda c: pay.refund(
            c, ledger, idempotency_key=key, merchant_id=merchant_id, merchant_order_id="nm-1", amount=amount
        )

    with db.uow() as conn:
        part = refund("r-1", 1_575)(conn)
        rest = refund("r-2", None)(conn)
        settled_after = pay.settlement_balance(conn, ledger, merchant_id)
    after = _snapshot(db, ledger, user_id)
    assert (part["pay_part"], part["fee_part"], rest["pay_part"], rest["fee_part"]) == (51, 23, 51, 24)
    assert after["wallets"]["USD"] == 1_000
    assert settled_after["balance"] == 0
    assert after["positions"] == {"USD": 0, "TWD": 0}


def test_http_rates_quote_and_conversion(api: httpx.Client) -> None:
    token = api.post("/v1/users", json={"handle": "uma"}).json()["token"]
    with httpx.Client(base_url=str(api.base_url), headers={"Authorization": f"Bearer {token}"}) as me:
        user_id = me.post("/v1/me/wallets/USD").json()["user_id"]
        api.post(
            f"/v1/admin/users/{user_id}/wallets/USD/adjustments",
            json={"amount": 500, "direction": "credit", "reason": "seed"},
            headers={"Idempotency-Key": "seed"},
        )
        body = {"from_currency": "USD", "to_currency": "TWD", "amount": 100}
        missing = me.post("/v1/me/fx/conversions", json=body, headers={"Idempotency-Key": "x-0"})
        float_rate = api.post("/v1/admin/fx/rates", json={"base": "USD", "quote": "TWD", "rate": 31.5})
        not_admin = me.post("/v1/admin/fx/rates", json={"base": "USD", "quote": "TWD", "rate": "31.5"})
        rate = api.post("/v1/admin/fx/rates", json={"base": "USD", "quote": "TWD", "rate": "31.5"})
        quote = me.get("/v1/fx/quote", params={"from": "USD", "to": "TWD", "amount": 100})
        done = me.post("/v1/me/fx/conversions", json=body, headers={"Idempotency-Key": "x-1"})
        replay = me.post("/v1/me/fx/conversions", json=body, headers={"Idempotency-Key": "x-1"})
        too_much = me.post(
            "/v1/me/fx/conversions", json={**body, "amount": 401}, headers={"Idempotency-Key": "x-2"}
        )
        wallets = (me.get("/v1/me/wallets/USD").json(), me.get("/v1/me/wallets/TWD").json())
        rates = api.get("/v1/admin/fx/rates").json()
    assert missing.status_code == 422
    assert missing.json()["type"].endswith("/fx-rate-unavailable")
    assert float_rate.status_code == 422
    assert not_admin.status_code == 401
    assert (rate.status_code, rate.json()["rate"], rate.json()["spread_bps"]) == (200, "31.5", 100)
    assert quote.json()["amount_to"] == 3_118
    assert (done.status_code, done.json()["amount_to"]) == (200, 3_118)
    assert replay.json() == done.json()
    assert too_much.json()["type"].endswith("/insufficient-funds")
    assert (wallets[0]["available"], wallets[1]["available"]) == (400, 3_118)
    assert [r["rate"] for r in rates] == ["31.5"]
