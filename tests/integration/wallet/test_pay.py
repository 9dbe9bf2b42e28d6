"""Paying partner merchants on both databases: orders down to 1 minor unit, the fee split, double
confirms, expiry, refunds that never exceed the payment, one-time pay codes — every failure changes
nothing — plus the same over real HTTP and the ``earnloop pay`` command as a subprocess."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, func, select

from earnloop.auth.service import create_partner, create_user
from earnloop.currencies import currency
from earnloop.db.engine import Database
from earnloop.idempotency.service import IdempotencyConflictError
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.outbox.models import outbox_events
from earnloop.risk.engine import memory_engine, shadowed_default
from earnloop.wallet import service
from earnloop.wallet.chart import AccountKind, AccountRef
from earnloop.wallet.errors import (
    InsufficientFundsError,
    InvalidAmountError,
    NotFoundError,
    StateConflictError,
)
from earnloop.wallet.ledger_ops import balance_of
from earnloop.wallet.pay import service as pay
from earnloop.wallet.pay.models import pay_codes, pay_orders, pay_refunds
from tests.conftest import Cli
from tests.integration.sql_budget import statements
from tests.integration.sqlite_lock import write_lock_held_elsewhere
from tests.integration.test_ledger_http_cli import one_error_line
from tests.integration.wallet_support import fund_wallet

TWD = currency("TWD")
RISK = memory_engine(strategies=shadowed_default)  # screened, decided by allow-all (default in shadow)


# -- helpers ------------------------------------------------------------------------------------------
def _setup(db: Database, ledger: LedgerService, funds: int = 10_000) -> tuple[int, int]:
    with db.uow() as conn:
        user_id = create_user(conn, "payer").id
        fund_wallet(conn, ledger, user_id, funds)
        merchant_id = create_partner(conn, "Corner Shop", "merchant", "TWD").id
    return user_id, merchant_id


def _balance(conn: Connection, ledger: LedgerService, ref: AccountRef) -> int:
    account = balance_of(conn, ledger, ref)
    return 0 if account is None else account.credits_posted - account.debits_posted


def _snapshot(db: Database, ledger: LedgerService, user_id: int, merchant_id: int) -> dict[str, Any]:
    """Everything a pay operation may change: the user's wallet, merchant, revenue, rows, events."""
    with db.uow(write=False) as conn:
        view = service.view(conn, ledger, user_id, "TWD")
        return {
            "wallet": (view.available, view.held),
            "merchant": _balance(conn, ledger, AccountRef(AccountKind.MERCHANT_SETTLEMENT, merchant_id, TWD)),
            "revenue": _balance(conn, ledger, AccountRef(AccountKind.PLATFORM_REVENUE, 0, TWD)),
            "orders": [tuple(r) for r in conn.execute(select(pay_orders).order_by(pay_orders.c.id))],
            "refunds": conn.execute(select(func.count()).select_from(pay_refunds)).scalar_one(),
            "codes": [tuple(r) for r in conn.execute(select(pay_codes).order_by(pay_codes.c.id))],
            "events": conn.execute(select(func.count()).select_from(outbox_events)).scalar_one(),
        }


def _fails_unchanged(
    db: Database,
    ledger: LedgerService,
    ids: tuple[int, int],
    action: Callable[[Connection], object],
    error: type[Exception],
) -> Exception:
    before = _snapshot(db, ledger, *ids)
    with pytest.raises(error) as caught, db.uow() as conn:
        action(conn)
    assert _snapshot(db, ledger, *ids) == before
    return caught.value


def _order(db: Database, ledger: LedgerService, merchant_id: int, ref: str, amount: int) -> dict[str, Any]:
    with db.uow() as conn:
        return pay.create_order(conn, ledger, merchant_id=merchant_id, merchant_order_id=ref, amount=amount)


def _confirm(
    conn: Connection, ledger: LedgerService, user_id: int, order_id: int, key: str
) -> dict[str, Any]:
    return pay.confirm(conn, ledger, idempotency_key=key, user_id=user_id, order_id=order_id, risk=RISK)


def _events(db: Database, topic: str) -> list[tuple[int | None, dict[str, Any]]]:
    with db.uow(write=False) as conn:
        rows = conn.execute(
            select(outbox_events.c.partner_id, outbox_events.c.payload)
            .where(outbox_events.c.topic == topic)
            .order_by(outbox_events.c.seq)
        )
        return [(r.partner_id, json.loads(r.payload)) for r in rows]


# -- orders -------------------------------------------------------------------------------------------
def test_one_cent_payment_pays_no_fee_and_credits_the_merchant(db: Database, ledger: LedgerService) -> None:
    user_id, merchant_id = _setup(db, ledger, funds=1)
    order = _order(db, ledger, merchant_id, "penny-1", 1)
    with db.uow() as conn:
        paid = _confirm(conn, ledger, user_id, order["order_id"], "c-1")
        history = service.history(conn, ledger, user_id, "TWD")
    after = _snapshot(db, ledger, user_id, merchant_id)
    assert (order["state"], order["fee"], order["fee_bps"]) == ("awaiting_user", 0, pay.DEFAULT_FEE_BPS)
    assert (paid["state"], paid["user_id"], paid["pay_amount"]) == ("paid", user_id, 1)
    assert (after["wallet"], after["merchant"], after["revenue"]) == ((0, 0), 1, 0)
    assert next((h.kind, h.amount) for h in history) == ("payment", -1)
    assert _events(db, "payment.succeeded") == [
        (
            merchant_id,
            {
                "order_id": order["token"],  # what the merchant's API answer calls order_id
                "merchant_order_id": "penny-1",
                "amount": 1,
                "currency": "TWD",
                "fee": 0,
                "source": "order",
                "paid_at_ns": paid["paid_at_ns"],
            },
        )
    ]


def test_fee_is_split_by_a_linked_transfer_at_the_merchants_rate(db: Database, ledger: LedgerService) -> None:
    user_id, merchant_id = _setup(db, ledger, funds=20_000)
    first = _order(db, ledger, merchant_id, "o-1", 10_000)
    with db.uow() as conn:
        pay.set_fee(conn, merchant_id=merchant_id, fee_bps=300)
    second = _order(db, ledger, merchant_id, "o-2", 999)
    with db.uow() as conn:
        _confirm(conn, ledger, user_id, first["order_id"], "c-1")
        _confirm(conn, ledger, user_id, second["order_id"], "c-2")
        kinds = [(h.kind, h.amount) for h in service.history(conn, ledger, user_id, "TWD")][:4]
        settled = pay.settlement_balance(conn, ledger, merchant_id)
    after = _snapshot(db, ledger, user_id, merchant_id)
    assert (first["fee"], second["fee"]) == (150, 29)  # 1.5 % of 100.00; 3 % of 9.99 floored
    assert after["wallet"] == (20_000 - 10_999, 0)
    assert (after["merchant"], after["revenue"]) == (10_999 - 179, 179)
    assert settled == {"merchant_id": merchant_id, "currency": "TWD", "balance": 10_999 - 179}
    assert kinds == [("payment_fee", -29), ("payment", -970), ("payment_fee", -150), ("payment", -9_850)]


def test_creating_an_order_is_idempotent_and_checked(db: Database, ledger: LedgerService) -> None:
    user_id, merchant_id = _setup(db, ledger)
    first = _order(db, ledger, merchant_id, "o-9", 500)
    ids = (user_id, merchant_id)
    with db.uow() as conn:
        charity = create_partner(conn, "Good Cause", "charity", "TWD").id
    assert _order(db, ledger, merchant_id, "o-9", 500) == first

    def create(**kw: Any) -> Callable[[Connection], object]:
        args: dict[str, Any] = {"merchant_id": merchant_id, "merchant_order_id": "o-10", "amount": 500} | kw
        return lambda conn: pay.create_order(conn, ledger, **args)

    _fails_unchanged(db, ledger, ids, create(merchant_order_id="o-9", amount=501), IdempotencyConflictError)
    _fails_unchanged(db, ledger, ids, create(currency_code="USD"), pay.CurrencyMismatchError)
    _fails_unchanged(db, ledger, ids, create(merchant_id=charity), pay.NotAMerchantError)
    _fails_unchanged(db, ledger, ids, create(merchant_id=999), NotFoundError)
    _fails_unchanged(db, ledger, ids, create(amount=0), InvalidAmountError)
    _fails_unchanged(db, ledger, ids, create(ttl_s=5), InvalidAmountError)
    _fails_unchanged(db, ledger, ids, create(merchant_order_id="bad id!"), Exception)


def test_confirm_replays_and_a_second_confirm_conflicts(db: Database, ledger: LedgerService) -> None:
    user_id, merchant_id = _setup(db, ledger)
    ids = (user_id, merchant_id)
    order = _order(db, ledger, merchant_id, "o-1", 1_000)
    with db.uow() as conn:
        paid = _confirm(conn, ledger, user_id, order["order_id"], "c-1")
    with db.uow() as conn:
        assert _confirm(conn, ledger, user_id, order["order_id"], "c-1") == paid
    _fails_unchanged(
        db, ledger, ids, lambda c: _confirm(c, ledger, user_id, order["order_id"], "c-2"), StateConflictError
    )
    _fails_unchanged(
        db,
        ledger,
        ids,
        lambda c: pay.confirm(
            c, ledger, idempotency_key="c-1", user_id=user_id, order_id=order["order_id"] + 1, risk=RISK
        ),
        IdempotencyConflictError,
    )
    _fails_unchanged(db, ledger, ids, lambda c: _confirm(c, ledger, user_id, 999, "c-3"), NotFoundError)
    assert _snapshot(db, ledger, *ids)["wallet"] == (9_000, 0)


def test_insufficient_funds_and_missing_wallet_change_nothing(db: Database, ledger: LedgerService) -> None:
    user_id, merchant_id = _setup(db, ledger, funds=999)
    ids = (user_id, merchant_id)
    order = _order(db, ledger, merchant_id, "o-1", 1_000)
    _fails_unchanged(
        db,
        ledger,
        ids,
        lambda c: _confirm(c, ledger, user_id, order["order_id"], "c-1"),
        InsufficientFundsError,
    )
    confirm_usd = lambda c: pay.confirm(  # noqa: E731
        c,
        ledger,
        idempotency_key="c-2",
        user_id=user_id,
        order_id=order["order_id"],
        pay_currency="USD",
        risk=RISK,
    )
    _fails_unchanged(db, ledger, ids, confirm_usd, NotFoundError)
    with db.uow() as conn:
        fund_wallet(conn, ledger, user_id, 1)
        assert _confirm(conn, ledger, user_id, order["order_id"], "c-1")["state"] == "paid"


def test_an_expired_order_cannot_be_confirmed(
    db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    user_id, merchant_id = _setup(db, ledger)
    ids = (user_id, merchant_id)
    order = _order(db, ledger, merchant_id, "o-1", 100)
    clock.advance(seconds=pay.ORDER_TTL_S)
    _fails_unchanged(
        db,
        ledger,
        ids,
        lambda c: _confirm(c, ledger, user_id, order["order_id"], "c-1"),
        pay.OrderExpiredError,
    )
    with db.uow() as conn:
        shown = pay.merchant_order(conn, ledger, merchant_id=merchant_id, merchant_order_id="o-1")
        assert pay.expire_due_orders(conn, clock.now_ns()) == 1
        assert pay.expire_due_orders(conn, clock.now_ns()) == 0
    assert shown["state"] == "expired"
    _fails_unchanged(
        db,
        ledger,
        ids,
        lambda c: _confirm(c, ledger, user_id, order["order_id"], "c-2"),
        pay.OrderExpiredError,
    )


def test_two_concurrent_confirms_of_one_order_exactly_one_pays(db: Database, ledger: LedgerService) -> None:
    user_id, merchant_id = _setup(db, ledger)
    order = _order(db, ledger, merchant_id, "o-1", 700)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(key: str) -> None:
        barrier.wait()
        try:
            with db.uow() as conn:
                _confirm(conn, ledger, user_id, order["order_id"], key)
            outcomes.append("paid")
        except StateConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=attempt, args=(f"k-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    after = _snapshot(db, ledger, user_id, merchant_id)
    assert sorted(outcomes) == ["conflict", "paid"]
    assert (after["wallet"], after["merchant"] + after["revenue"]) == ((9_300, 0), 700)
    assert len(_events(db, "payment.succeeded")) == 1


# -- refunds ------------------------------------------------------------------------------------------
def test_partial_then_full_refund_never_exceeds_the_payment(db: Database, ledger: LedgerService) -> None:
    user_id, merchant_id = _setup(db, ledger)
    ids = (user_id, merchant_id)
    order = _order(db, ledger, merchant_id, "o-1", 1_000)  # fee 15

    def refund(key: str, amount: int | None) -> Callable[[Connection], dict[str, Any]]:
        return lambda c: pay.refund(
            c, ledger, idempotency_key=key, merchant_id=merchant_id, merchant_order_id="o-1", amount=amount
        )

    _fails_unchanged(db, ledger, ids, refund("r-0", 10), StateConflictError)  # not paid yet
    with db.uow() as conn:
        _confirm(conn, ledger, user_id, order["order_id"], "c-1")
        part = refund("r-1", 300)(conn)
        assert refund("r-1", 300)(conn) == part
    _fails_unchanged(db, ledger, ids, refund("r-2", 701), pay.RefundExceedsPaymentError)
    _fails_unchanged(db, ledger, ids, refund("r-1", 301), IdempotencyConflictError)
    mid = _snapshot(db, ledger, *ids)
    with db.uow() as conn:
        rest = refund("r-3", None)(conn)
    _fails_unchanged(db, ledger, ids, refund("r-4", 1), StateConflictError)
    after = _snapshot(db, ledger, *ids)
    assert (part["amount"], part["fee_part"], part["pay_part"], part["order"]["state"]) == (
        300,
        4,
        300,
        "partially_refunded",
    )
    assert (mid["wallet"], mid["merchant"], mid["revenue"]) == ((9_300, 0), 985 - 296, 11)
    assert (rest["amount"], rest["fee_part"], rest["order"]["state"], rest["order"]["refunded"]) == (
        700,
        11,
        "refunded",
        1_000,
    )
    assert (after["wallet"], after["merchant"], after["revenue"], after["refunds"]) == ((10_000, 0), 0, 0, 2)
    assert [(p, e["amount"], e["state"]) for p, e in _events(db, "payment.refunded")] == [
        (merchant_id, 300, "partially_refunded"),
        (merchant_id, 700, "refunded"),
    ]


def test_concurrent_refunds_cannot_together_exceed_the_payment(db: Database, ledger: LedgerService) -> None:
    user_id, merchant_id = _setup(db, ledger)
    order = _order(db, ledger, merchant_id, "o-1", 1_000)
    with db.uow() as conn:
        _confirm(conn, ledger, user_id, order["order_id"], "c-1")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(key: str) -> None:
        barrier.wait()
        try:
            with db.uow() as conn:
                pay.refund(
                    conn,
                    ledger,
                    idempotency_key=key,
                    merchant_id=merchant_id,
                    merchant_order_id="o-1",
                    amount=600,
                )
            outcomes.append("refunded")
        except pay.RefundExceedsPaymentError:
            outcomes.append("exceeds")

    threads = [threading.Thread(target=attempt, args=(f"r-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    after = _snapshot(db, ledger, user_id, merchant_id)
    assert sorted(outcomes) == ["exceeds", "refunded"]
    assert (after["wallet"], after["refunds"]) == ((9_600, 0), 1)


# -- pay codes ----------------------------------------------------------------------------------------
def test_pay_code_is_single_use_short_lived_and_stored_hashed(
    db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    user_id, merchant_id = _setup(db, ledger, funds=500)
    ids = (user_id, merchant_id)
    with db.uow() as conn:
        issued = pay.issue_pay_code(conn, ledger, user_id=user_id, currency_code="TWD")
        stale = pay.issue_pay_code(conn, ledger, user_id=user_id, currency_code="TWD")
    code = issued["code"]

    def charge(key: str, the_code: str, ref: str, amount: int) -> Callable[[Connection], dict[str, Any]]:
        return lambda c: pay.charge_pay_code(
            c,
            ledger,
            idempotency_key=key,
            merchant_id=merchant_id,
            code=the_code,
            merchant_order_id=ref,
            amount=amount,
            risk=RISK,
        )

    assert len(code) == 18
    assert code.isdigit()
    assert code not in json.dumps(_snapshot(db, ledger, *ids)["codes"], default=str)
    _fails_unchanged(db, ledger, ids, charge("k-1", code, "till-1", 501), InsufficientFundsError)
    _fails_unchanged(db, ledger, ids, charge("k-2", "0" * 18, "till-1", 100), NotFoundError)
    with db.uow() as conn:
        paid = charge("k-3", code, "till-1", 400)(conn)
        assert charge("k-3", code, "till-1", 400)(conn) == paid
    _fails_unchanged(db, ledger, ids, charge("k-4", code, "till-2", 50), pay.PayCodeUsedError)
    clock.advance(seconds=pay.PAY_CODE_TTL_S)
    _fails_unchanged(db, ledger, ids, charge("k-5", stale["code"], "till-3", 50), pay.PayCodeExpiredError)
    _fails_unchanged(
        db,
        ledger,
        ids,
        lambda c: pay.create_order(c, ledger, merchant_id=merchant_id, merchant_order_id="till-1", amount=9),
        pay.DuplicateOrderError,
    )
    after = _snapshot(db, ledger, *ids)
    assert (paid["state"], paid["source"], paid["amount"], paid["fee"]) == ("paid", "code", 400, 6)
    assert (after["wallet"], after["merchant"], after["revenue"]) == ((100, 0), 394, 6)
    assert [row[4] for row in after["codes"]] == ["used", "active"]


# -- HTTP ---------------------------------------------------------------------------------------------
def _client(api: httpx.Client, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=str(api.base_url), headers=headers)


def _problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/" + slug)


# Statements of one payment over HTTP once the merchant's accounts exist: the two requests' key and
# token lookups, the order (idempotency claim and answer, merchant, fee, insert in a savepoint, read
# back) and the confirm (claim, order, wallet, the guarded update, the ledger's two linked legs, the
# order read back, the outbox event, the answer), and its risk screening (the payer's prior decisions,
# each feature source in a savepoint — list membership, phone reputation —, the decision recorded). A
# change that adds one must raise this, on purpose.
PAYMENT_BUDGET = 34


@contextmanager
def _funded_customer_and_shop(
    api: httpx.Client, handle: str, shop: str
) -> Iterator[tuple[httpx.Client, httpx.Client, int]]:
    """Clients of a new user with 1,000 TWD in the wallet and of a new TWD merchant, and its partner id."""
    token = api.post("/v1/users", json={"handle": handle}).json()["token"]
    key = api.post("/v1/partners", json={"name": shop, "kind": "merchant", "settlement_currency": "TWD"})
    with (
        _client(api, Authorization=f"Bearer {token}") as me,
        _client(api, **{"X-Api-Key": key.json()["api_key"]}) as merchant,
    ):
        user_id = me.post("/v1/me/wallets/TWD").json()["user_id"]
        api.post(
            f"/v1/admin/users/{user_id}/wallets/TWD/adjustments",
            json={"amount": 1_000, "direction": "credit", "reason": "top-up"},
            headers={"Idempotency-Key": f"fund-{handle}"},
        )
        yield me, merchant, int(key.json()["partner_id"])


def _order_over_http(shop: httpx.Client, order_id: str, amount: int = 100) -> str:
    order = shop.post("/v1/merchant/orders", json={"order_id": order_id, "amount": amount})
    assert order.status_code == 200, order.text
    return str(order.json()["order_id"])


def _confirm_over_http(me: httpx.Client, order_id: str, key: str) -> httpx.Response:
    return me.post(f"/v1/me/orders/{order_id}/confirm", headers={"Idempotency-Key": key})


def test_a_payment_over_http_stays_within_its_statement_budget(api: httpx.Client, db: Database) -> None:
    """Order + confirm run every statement on the driver (``earnloop bench wallet``: ~1.6x the payments
    a second of SQLAlchemy's execution) and no more statements than the budget."""
    with _funded_customer_and_shop(api, "budget", "Kiosk") as (me, shop, _):
        first = _confirm_over_http(me, _order_over_http(shop, "first"), "first")  # opens the shop's accounts
        assert first.status_code == 200, first.text
        with statements(db) as sent, statements(db, "before_execute") as through_sqlalchemy:
            paid = _confirm_over_http(me, _order_over_http(shop, "second"), "second")
    assert paid.status_code == 200, paid.text
    assert paid.json()["state"] == "paid"
    assert through_sqlalchemy == []
    assert len(sent) <= PAYMENT_BUDGET, "\n".join(sent)


@pytest.mark.parametrize("db_target", ["sqlite"], indirect=True)
def test_a_payment_waits_out_another_processs_write_lock_while_the_server_answers(
    api: httpx.Client, db: Database
) -> None:
    """ADR 0015 over real HTTP, on SQLite: the credentials are looked up on the event loop and the
    payment's write runs there when the lock is free. While another process holds the write lock the
    confirm waits on the writer thread, and authenticated reads keep answering at once."""
    with _funded_customer_and_shop(api, "patient", "Corner") as (me, shop, _):
        order_id = _order_over_http(shop, "wait-1")
        with ThreadPoolExecutor(max_workers=1) as payer:
            with write_lock_held_elsewhere(db):
                waiting = payer.submit(_confirm_over_http, me, order_id, "wait-1")
                time.sleep(0.5)
                assert not waiting.done()  # it cannot commit while the lock is held
                for _ in range(5):
                    started = time.monotonic()
                    order = me.get(f"/v1/me/orders/{order_id}")
                    assert (order.status_code, order.json()["state"]) == (200, "awaiting_user")
                    assert shop.get("/v1/merchant/orders/wait-1").status_code == 200
                    assert time.monotonic() - started < 0.5
            paid = waiting.result(30)
        assert paid.status_code == 200, paid.text
        assert _confirm_over_http(me, order_id, "wait-1").json() == paid.json()  # a retry: the same answer
        assert me.get("/v1/me/wallets/TWD").json()["available"] == 900


def test_http_order_confirm_refund_and_pay_code(api: httpx.Client) -> None:
    with _funded_customer_and_shop(api, "hanna", "Tea") as (me, shop, shop_id):
        order = shop.post("/v1/merchant/orders", json={"order_id": "tea-1", "amount": 600})
        assert order.status_code == 200, order.text
        order_id = order.json()["order_id"]
        assert (
            shop.post("/v1/merchant/orders", json={"order_id": "tea-1", "amount": 600}).json() == order.json()
        )
        seen = me.get(f"/v1/me/orders/{order_id}").json()
        url = f"/v1/me/orders/{order_id}/confirm"
        _problem(me.post(url), 422, "validation-error")  # no Idempotency-Key
        paid = me.post(url, headers={"Idempotency-Key": "c-1"})
        replay = me.post(url, headers={"Idempotency-Key": "c-1"})
        _problem(me.post(url, headers={"Idempotency-Key": "c-2"}), 409, "state-conflict")
        big = shop.post("/v1/merchant/orders", json={"order_id": "tea-2", "amount": 401}).json()
        _problem(
            me.post(f"/v1/me/orders/{big['order_id']}/confirm", headers={"Idempotency-Key": "c-3"}),
            422,
            "insufficient-funds",
        )
        refunds = "/v1/merchant/orders/tea-1/refunds"
        _problem(
            shop.post(refunds, json={"amount": 601}, headers={"Idempotency-Key": "r-1"}),
            422,
            "refund-exceeds-payment",
        )
        refunded = shop.post(
            refunds, json={"amount": 100, "reason": "cold"}, headers={"Idempotency-Key": "r-2"}
        )
        wallet = me.get("/v1/me/wallets/TWD").json()
        code = me.post("/v1/me/pay-codes", json={"currency": "TWD"})
        charge = {"code": code.json()["code"], "order_id": "tea-3", "amount": 50}
        charged = shop.post("/v1/merchant/pay-codes/charge", json=charge, headers={"Idempotency-Key": "k-1"})
        _problem(
            shop.post(
                "/v1/merchant/pay-codes/charge",
                json={**charge, "order_id": "tea-4"},
                headers={"Idempotency-Key": "k-2"},
            ),
            409,
            "pay-code-used",
        )
        settlement = shop.get("/v1/merchant/settlement").json()
        _problem(shop.get("/v1/merchant/orders/nope"), 404, "not-found")
        _problem(me.post("/v1/merchant/orders", json={"order_id": "x", "amount": 1}), 401, "unauthorized")
        fee = api.put(f"/v1/admin/merchants/{shop_id}/pay-settings", json={"fee_bps": 0})
    assert (seen["state"], seen["merchant_name"], seen["fee"]) == ("awaiting_user", "Tea", 9)
    assert paid.status_code == 200
    assert replay.json() == paid.json()
    assert (paid.json()["state"], paid.json()["paid_at"] is not None) == ("paid", True)
    assert refunded.json()["order"]["state"] == "partially_refunded"
    assert wallet["available"] == 1_000 - 600 + 100
    assert code.status_code == 201
    assert len(code.json()["code"]) == 18
    assert (charged.status_code, charged.json()["state"], charged.json()["source"]) == (200, "paid", "code")
    assert settlement == {
        "merchant_id": shop_id,
        "currency": "TWD",
        "balance": 591 - 99 + 50,
    }
    assert fee.json()["fee_bps"] == 0


# -- CLI ----------------------------------------------------------------------------------------------
# Each invocation is a fresh Python process (seconds on a busy machine): the fixtures are made in-process,
# and the subprocess runs only the commands under test.
def test_cli_pay_and_fx_commands(db: Database, ledger: LedgerService, cli: Cli) -> None:
    def ok(*args: str) -> Any:
        done = cli(*args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    with db.uow() as conn:
        user_id = create_user(conn, "ivy").id
        fund_wallet(conn, ledger, user_id, 1_000, "USD")
        merchant_id = create_partner(conn, "Noodles", "merchant", "TWD").id
        pay.set_fee(conn, merchant_id=merchant_id, fee_bps=0)
    rate = ok("fx", "set-rate", "USD", "TWD", "31.50", "--valid-from-ns", "1")
    order = ok("pay", "create-order", str(merchant_id), "n-1", "3150")
    paid = ok("pay", "confirm", str(user_id), order["token"], "--key", "c-1", "--currency", "USD")

    def refunded() -> tuple[object, ...]:
        with db.uow(write=False) as conn:
            usd = service.view(conn, ledger, user_id, "USD")
            return (
                (usd.available, usd.held),
                pay.merchant_order(conn, ledger, merchant_id=merchant_id, merchant_order_id="n-1"),
                _balance(conn, ledger, AccountRef(AccountKind.MERCHANT_SETTLEMENT, merchant_id, TWD)),
                conn.execute(select(func.count()).select_from(pay_refunds)).scalar_one(),
            )

    before = refunded()
    error = one_error_line(cli("pay", "refund", str(merchant_id), "n-1", "--key", "r-1", "--amount", "3151"))
    assert (rate["rate"], rate["spread_bps"]) == ("31.5", 100)
    assert (order["state"], order["amount"], order["currency"]) == ("awaiting_user", 3150, "TWD")
    assert (paid["state"], paid["pay_currency"], paid["pay_amount"]) == ("paid", "USD", 102)
    assert "exceeds" in error
    assert refunded() == before
