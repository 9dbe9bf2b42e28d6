"""Escrow (guaranteed trades) on both databases: the happy path, every illegal transition (409, nothing
changed), refunds, timeouts driven by the manual clock, a concurrent double confirm, HTTP and the CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from earnloop.currencies import UnknownCurrencyError, currency
from earnloop.db.engine import Database
from earnloop.idempotency.service import IdempotencyConflictError
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.outbox.models import outbox_events
from earnloop.wallet import service
from earnloop.wallet.chart import AccountKind, AccountRef
from earnloop.wallet.errors import (
    InsufficientFundsError,
    InvalidAmountError,
    NotFoundError,
    StateConflictError,
    WalletError,
)
from earnloop.wallet.escrow import service as escrow
from earnloop.wallet.escrow.models import escrow_trades
from earnloop.wallet.escrow.service import ADMIN, Actor, DuplicateRefError, ForbiddenError
from earnloop.wallet.ledger_ops import balance_of
from earnloop.worker import escrow_timeouts, sweep_once
from tests.conftest import Cli
from tests.integration.wallet.shop import FUNDS, Shop

DAY_S = 86_400
PRICE = 2_500


# -- helpers ---------------------------------------------------------------------------------------
class EscrowShop(Shop):
    """The shared shop, with the escrow operations."""

    def create(self, ref: str = "order-1", amount: int = PRICE, **extra: int) -> str:
        trade = self.do(
            lambda c: escrow.create_trade(
                c,
                self.ledger,
                idempotency_key=self.key(),
                partner_id=self.merchant,
                trade_ref=ref,
                currency_code="TWD",
                amount=amount,
                **extra,
            )
        )
        trade_id: str = trade["trade_id"]
        return trade_id

    def pay(self, trade_id: str, user: int | None = None, key: str | None = None) -> dict[str, Any]:
        return self.do(  # type: ignore[no-any-return]
            lambda c: escrow.pay(
                c,
                self.ledger,
                idempotency_key=key or self.key(),
                trade_id=trade_id,
                user_id=user or self.buyer,
            )
        )

    def ship(self, trade_id: str, partner: int | None = None) -> dict[str, Any]:
        return self.do(  # type: ignore[no-any-return]
            lambda c: escrow.mark_sent(
                c,
                self.ledger,
                idempotency_key=self.key(),
                trade_id=trade_id,
                partner_id=partner or self.merchant,
            )
        )

    def confirm(self, trade_id: str, user: int | None = None, key: str | None = None) -> dict[str, Any]:
        return self.do(  # type: ignore[no-any-return]
            lambda c: escrow.confirm(
                c,
                self.ledger,
                idempotency_key=key or self.key(),
                trade_id=trade_id,
                user_id=user or self.buyer,
            )
        )

    def cancel(self, trade_id: str, actor: Actor, reason: str = "cancelled") -> dict[str, Any]:
        return self.do(  # type: ignore[no-any-return]
            lambda c: escrow.cancel(
                c, self.ledger, idempotency_key=self.key(), trade_id=trade_id, actor=actor, reason=reason
            )
        )

    def trade(self, trade_id: str) -> dict[str, Any]:
        return self.do(lambda c: escrow.get_trade(c, trade_id))  # type: ignore[no-any-return]

    def snapshot(self, trade_id: str | None = None) -> dict[str, Any]:
        """Everything a failed operation must leave unchanged."""
        with self.db.uow(write=False) as conn:
            settlement = balance_of(
                conn, self.ledger, AccountRef(AccountKind.MERCHANT_SETTLEMENT, self.merchant, currency("TWD"))
            )
            return {
                "trade": escrow.get_trade(conn, trade_id) if trade_id else None,
                "buyer": service.view(conn, self.ledger, self.buyer, "TWD"),
                "stranger": service.view(conn, self.ledger, self.stranger, "TWD"),
                "settlement": None
                if settlement is None
                else (settlement.credits_pending, settlement.credits_posted),
                "events": conn.execute(select(func.count()).select_from(outbox_events)).scalar_one(),
            }


@pytest.fixture
def shop(db: Database, ledger: LedgerService) -> EscrowShop:
    return EscrowShop(db, ledger)


def _trade_in(shop: EscrowShop, state: str, ref: str = "order-1") -> str:
    trade_id = shop.create(ref)
    if state == escrow.TRADE_CLOSED:
        shop.cancel(trade_id, Actor("merchant", shop.merchant))
        return trade_id
    if state == escrow.WAIT_BUYER_PAY:
        return trade_id
    shop.pay(trade_id)
    if state == escrow.WAIT_SELLER_SEND:
        return trade_id
    shop.ship(trade_id)
    if state == escrow.WAIT_BUYER_CONFIRM:
        return trade_id
    shop.confirm(trade_id)
    return trade_id


# -- happy path --------------------------------------------------------------------------------------
def test_pay_ship_confirm_holds_then_releases_to_the_seller(shop: EscrowShop, clock: ManualClock) -> None:
    trade_id = shop.create(confirm_timeout_s=3 * DAY_S)
    created = shop.trade(trade_id)
    paid = shop.pay(trade_id)
    after_pay = shop.snapshot()
    clock.advance(seconds=60)
    sent = shop.ship(trade_id)
    confirmed = shop.confirm(trade_id)
    done = shop.snapshot()

    assert (created["state"], created["buyer_user_id"]) == ("WAIT_BUYER_PAY", None)
    assert (paid["state"], paid["buyer_user_id"]) == ("WAIT_SELLER_SEND", shop.buyer)
    assert (after_pay["buyer"].available, after_pay["buyer"].held) == (FUNDS - PRICE, PRICE)
    assert after_pay["settlement"] == (PRICE, 0)
    assert sent["state"] == "WAIT_BUYER_CONFIRM"
    assert sent["confirm_deadline_ns"] == clock.now_ns() + 3 * DAY_S * 10**9
    assert (confirmed["state"], confirmed["close_reason"]) == ("TRADE_FINISHED", "buyer_confirmed")
    assert (done["buyer"].available, done["buyer"].held) == (FUNDS - PRICE, 0)
    assert done["settlement"] == (0, PRICE)
    events = shop.events()
    assert [(e["topic"], e["partner_id"], e["from_state"], e["to_state"]) for e in events] == [
        ("escrow.state_changed", shop.merchant, "WAIT_BUYER_PAY", "WAIT_SELLER_SEND"),
        ("escrow.state_changed", shop.merchant, "WAIT_SELLER_SEND", "WAIT_BUYER_CONFIRM"),
        ("escrow.state_changed", shop.merchant, "WAIT_BUYER_CONFIRM", "TRADE_FINISHED"),
    ]
    with shop.db.uow(write=False) as conn:
        history = service.history(conn, shop.ledger, shop.buyer, "TWD")
        assert [t["trade_id"] for t in escrow.list_buyer_trades(conn, shop.buyer)] == [trade_id]
    assert [(h.kind, h.amount) for h in history[:2]] == [("escrow_release", -PRICE), ("escrow_hold", -PRICE)]


def test_retries_replay_and_reused_keys_or_refs_conflict(shop: EscrowShop) -> None:
    def create(key: str, ref: str, amount: int) -> dict[str, Any]:
        return shop.do(  # type: ignore[no-any-return]
            lambda c: escrow.create_trade(
                c,
                shop.ledger,
                idempotency_key=key,
                partner_id=shop.merchant,
                trade_ref=ref,
                currency_code="TWD",
                amount=amount,
            )
        )

    first = create("c-1", "order-9", PRICE)
    assert create("c-1", "order-9", PRICE) == first
    before = shop.snapshot(first["trade_id"])
    with pytest.raises(IdempotencyConflictError):
        create("c-1", "order-9", PRICE + 1)
    with pytest.raises(DuplicateRefError):
        create("c-2", "order-9", PRICE)
    paid = shop.pay(first["trade_id"], key="p-1")
    assert shop.pay(first["trade_id"], key="p-1") == paid
    after = shop.snapshot(first["trade_id"])
    assert before["trade"]["state"] == "WAIT_BUYER_PAY"
    assert (after["buyer"].held, after["settlement"], after["events"]) == (PRICE, (PRICE, 0), 1)
    with shop.db.uow(write=False) as conn:
        count = conn.execute(select(func.count()).select_from(escrow_trades)).scalar_one()
    assert count == 1


# -- illegal transitions -----------------------------------------------------------------------------
ILLEGAL: dict[str, list[str]] = {
    escrow.WAIT_BUYER_PAY: ["ship", "confirm", "buyer_cancel"],
    escrow.WAIT_SELLER_SEND: ["pay", "confirm"],
    escrow.WAIT_BUYER_CONFIRM: ["pay", "ship", "buyer_cancel"],
    escrow.TRADE_FINISHED: ["pay", "ship", "confirm", "buyer_cancel", "merchant_cancel", "admin_cancel"],
    escrow.TRADE_CLOSED: ["pay", "ship", "confirm", "buyer_cancel", "merchant_cancel", "admin_cancel"],
}


def _op(shop: EscrowShop, name: str, trade_id: str) -> None:
    if name == "pay":
        shop.pay(trade_id)
    elif name == "ship":
        shop.ship(trade_id)
    elif name == "confirm":
        shop.confirm(trade_id)
    elif name == "buyer_cancel":
        shop.cancel(trade_id, Actor("buyer", shop.buyer))
    elif name == "merchant_cancel":
        shop.cancel(trade_id, Actor("merchant", shop.merchant))
    else:
        shop.cancel(trade_id, ADMIN)


@pytest.mark.parametrize("state", list(ILLEGAL))
def test_every_illegal_transition_is_409_and_changes_nothing(shop: EscrowShop, state: str) -> None:
    trade_id = _trade_in(shop, state)
    before = shop.snapshot(trade_id)
    for op in ILLEGAL[state]:
        with pytest.raises(StateConflictError) as raised:
            _op(shop, op, trade_id)
        assert raised.value.status == 409, op
        assert shop.snapshot(trade_id) == before, op


# -- refunds -----------------------------------------------------------------------------------------
def test_refund_before_release_voids_the_hold(shop: EscrowShop) -> None:
    cases = [
        (escrow.WAIT_SELLER_SEND, Actor("buyer", shop.buyer)),
        (escrow.WAIT_SELLER_SEND, Actor("merchant", shop.merchant)),
        (escrow.WAIT_BUYER_CONFIRM, Actor("merchant", shop.merchant)),
        (escrow.WAIT_BUYER_CONFIRM, ADMIN),
    ]
    for index, (state, actor) in enumerate(cases):
        trade_id = _trade_in(shop, state, ref=f"refund-{index}")
        closed = shop.cancel(trade_id, actor, reason="refund")
        after = shop.snapshot()
        assert (closed["state"], closed["close_reason"]) == ("TRADE_CLOSED", "refund"), actor
        assert (after["buyer"].available, after["buyer"].held) == (FUNDS, 0), actor
        assert after["settlement"] == (0, 0), actor
        assert shop.events()[-1]["to_state"] == "TRADE_CLOSED"


def test_unpaid_trade_can_be_cancelled_by_the_merchant_without_money(shop: EscrowShop) -> None:
    trade_id = shop.create()
    closed = shop.cancel(trade_id, Actor("merchant", shop.merchant))
    assert (closed["state"], shop.snapshot()["buyer"].available) == ("TRADE_CLOSED", FUNDS)


# -- error paths ---------------------------------------------------------------------------------------
def test_insufficient_funds_and_missing_wallet_change_nothing(shop: EscrowShop) -> None:
    trade_id = shop.create(amount=FUNDS + 1)
    before = shop.snapshot(trade_id)
    with pytest.raises(InsufficientFundsError):
        shop.pay(trade_id)
    assert shop.snapshot(trade_id) == before
    usd = shop.do(
        lambda c: escrow.create_trade(
            c,
            shop.ledger,
            idempotency_key="usd",
            partner_id=shop.merchant,
            trade_ref="usd-1",
            currency_code="USD",
            amount=100,
        )
    )
    before = shop.snapshot(usd["trade_id"])
    with pytest.raises(NotFoundError, match="no USD wallet"):
        shop.pay(usd["trade_id"])
    assert shop.snapshot(usd["trade_id"]) == before


def test_strangers_and_other_merchants_cannot_see_or_act(shop: EscrowShop) -> None:
    trade_id = _trade_in(shop, escrow.WAIT_SELLER_SEND)
    before = shop.snapshot(trade_id)
    attempts: list[Callable[[], object]] = [
        lambda: shop.pay(trade_id, user=shop.stranger),
        lambda: shop.confirm(trade_id, user=shop.stranger),
        lambda: shop.ship(trade_id, partner=shop.other_merchant),
        lambda: shop.cancel(trade_id, Actor("merchant", shop.other_merchant)),
        lambda: shop.cancel(trade_id, Actor("buyer", shop.stranger)),
        lambda: shop.do(lambda c: escrow.get_trade(c, trade_id, actor=Actor("buyer", shop.stranger))),
        lambda: shop.do(lambda c: escrow.get_trade(c, "tr_nope")),
    ]
    for attempt in attempts:
        with pytest.raises(NotFoundError):
            attempt()
    assert shop.snapshot(trade_id) == before


BAD_TRADES: list[tuple[dict[str, Any], type[Exception]]] = [
    ({"amount": 0}, InvalidAmountError),
    ({"trade_ref": ""}, InvalidAmountError),
    ({"currency_code": "XXX"}, UnknownCurrencyError),
    ({"pay_timeout_s": 1}, InvalidAmountError),
    ({"confirm_timeout_s": 10**9}, InvalidAmountError),
    ({"partner_id": "charity"}, ForbiddenError),
    ({"partner_id": 999}, NotFoundError),
]


def test_bad_trade_requests_are_rejected_and_create_nothing(shop: EscrowShop) -> None:
    before = shop.snapshot()
    for changes, error in BAD_TRADES:
        args: dict[str, Any] = {
            "partner_id": shop.merchant,
            "trade_ref": "bad",
            "currency_code": "TWD",
            "amount": PRICE,
            **changes,
        }
        if args["partner_id"] == "charity":
            args["partner_id"] = shop.charity
        with pytest.raises(error), shop.db.uow() as conn:
            escrow.create_trade(conn, shop.ledger, idempotency_key="bad", **args)
    assert shop.snapshot() == before
    with shop.db.uow(write=False) as conn:
        assert conn.execute(select(func.count()).select_from(escrow_trades)).scalar_one() == 0


# -- timeouts --------------------------------------------------------------------------------------------
def test_pay_timeout_closes_unpaid_trades_and_late_payment_is_refused(
    shop: EscrowShop, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    trade_id = shop.create(pay_timeout_s=3_600)
    clock.advance(seconds=3_599)
    assert escrow_timeouts(db, ledger) == 0
    clock.advance(seconds=1)
    before = shop.snapshot(trade_id)
    with pytest.raises(StateConflictError, match="payment window"):
        shop.pay(trade_id)
    assert shop.snapshot(trade_id) == before
    assert escrow_timeouts(db, ledger) == 1
    assert escrow_timeouts(db, ledger) == 0
    closed = shop.trade(trade_id)
    assert (closed["state"], closed["close_reason"]) == ("TRADE_CLOSED", "pay_timeout")
    assert shop.snapshot()["buyer"].available == FUNDS


def test_confirm_timeout_releases_to_the_seller(
    shop: EscrowShop, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    trade_id = shop.create(confirm_timeout_s=7 * DAY_S)
    shop.pay(trade_id)
    clock.advance(seconds=30 * DAY_S)  # waiting for the seller does not time out
    assert escrow_timeouts(db, ledger) == 0
    shop.ship(trade_id)
    clock.advance(seconds=7 * DAY_S - 1)
    assert escrow_timeouts(db, ledger) == 0
    clock.advance(seconds=1)
    assert sweep_once(db, ledger) == 0  # the escrow hold has no ledger timeout
    assert escrow_timeouts(db, ledger) == 1
    done = shop.trade(trade_id)
    after = shop.snapshot()
    assert (done["state"], done["close_reason"]) == ("TRADE_FINISHED", "confirm_timeout")
    assert (after["buyer"].held, after["settlement"]) == (0, (0, PRICE))
    with pytest.raises(StateConflictError):
        shop.confirm(trade_id)


# -- concurrency -----------------------------------------------------------------------------------------
def test_two_concurrent_confirms_release_the_money_once(shop: EscrowShop) -> None:
    trade_id = _trade_in(shop, escrow.WAIT_BUYER_CONFIRM)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def confirm(key: str) -> None:
        barrier.wait()
        try:
            shop.confirm(trade_id, key=key)
            result = "ok"
        except WalletError as exc:
            result = type(exc).__name__
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=confirm, args=(f"race-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    after = shop.snapshot(trade_id)
    assert sorted(outcomes) == ["StateConflictError", "ok"]
    assert after["trade"]["state"] == "TRADE_FINISHED"
    assert (after["buyer"].available, after["buyer"].held, after["settlement"]) == (
        FUNDS - PRICE,
        0,
        (0, PRICE),
    )
    assert [e["to_state"] for e in shop.events()].count("TRADE_FINISHED") == 1


# -- HTTP ----------------------------------------------------------------------------------------------------
def _client(api: httpx.Client, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=str(api.base_url), headers=headers, timeout=30)


def test_http_trade_lifecycle_and_problem_answers(api: httpx.Client, clock: ManualClock) -> None:
    merchant = api.post(
        "/v1/partners", json={"name": "shop", "kind": "merchant", "settlement_currency": "TWD"}
    )
    charity = api.post("/v1/partners", json={"name": "care", "kind": "charity", "settlement_currency": "TWD"})
    buyer = api.post("/v1/users", json={"handle": "http-buyer"}).json()
    seller = _client(api, {"X-Api-Key": merchant.json()["api_key"]})
    good_cause = _client(api, {"X-Api-Key": charity.json()["api_key"]})
    me = _client(api, {"Authorization": f"Bearer {buyer['token']}"})
    with seller, good_cause, me:
        me.post("/v1/me/wallets/TWD")
        funded = api.post(
            f"/v1/admin/users/{buyer['user_id']}/wallets/TWD/adjustments",
            json={"amount": FUNDS, "direction": "credit", "reason": "test"},
            headers={"Idempotency-Key": "fund"},
        )
        assert funded.status_code == 200
        body = {"trade_ref": "o-1", "amount": PRICE, "currency": "TWD", "confirm_timeout_s": DAY_S}
        assert seller.post("/v1/partner/escrow/trades", json=body).status_code == 422  # no key
        forbidden = good_cause.post("/v1/partner/escrow/trades", json=body, headers={"Idempotency-Key": "t"})
        created = seller.post("/v1/partner/escrow/trades", json=body, headers={"Idempotency-Key": "t"})
        assert created.status_code == 201, created.text
        trade_id = created.json()["trade_id"]
        visible = me.get(f"/v1/me/escrow/trades/{trade_id}")
        early_ship = seller.post(
            f"/v1/partner/escrow/trades/{trade_id}/ship", headers={"Idempotency-Key": "s"}
        )
        paid = me.post(f"/v1/me/escrow/trades/{trade_id}/pay", headers={"Idempotency-Key": "p"})
        held = me.get("/v1/me/wallets/TWD").json()
        shipped = seller.post(f"/v1/partner/escrow/trades/{trade_id}/ship", headers={"Idempotency-Key": "s2"})
        confirmed = me.post(f"/v1/me/escrow/trades/{trade_id}/confirm", headers={"Idempotency-Key": "c"})
        replay = me.post(f"/v1/me/escrow/trades/{trade_id}/confirm", headers={"Idempotency-Key": "c"})
        again = me.post(f"/v1/me/escrow/trades/{trade_id}/confirm", headers={"Idempotency-Key": "c2"})
        refund = seller.post(
            f"/v1/partner/escrow/trades/{trade_id}/cancel", json={}, headers={"Idempotency-Key": "r"}
        )
        final = me.get("/v1/me/wallets/TWD").json()
        mine = me.get("/v1/me/escrow/trades").json()
        admin_view = api.get(f"/v1/admin/escrow/trades/{trade_id}")
        missing = seller.get("/v1/partner/escrow/trades/tr_missing")
        anonymous = httpx.get(str(api.base_url).rstrip("/") + "/v1/me/escrow/trades")
    assert forbidden.status_code == 403
    assert forbidden.json()["type"].endswith("/forbidden")
    assert visible.json()["state"] == "WAIT_BUYER_PAY"
    assert early_ship.status_code == 409
    assert early_ship.headers["content-type"].startswith("application/problem+json")
    assert early_ship.json()["type"].endswith("/state-conflict")
    assert paid.json()["state"] == "WAIT_SELLER_SEND"
    assert (held["available"], held["held"]) == (FUNDS - PRICE, PRICE)
    assert shipped.json()["state"] == "WAIT_BUYER_CONFIRM"
    assert confirmed.json()["state"] == "TRADE_FINISHED"
    assert replay.json() == confirmed.json()
    assert (again.status_code, refund.status_code) == (409, 409)
    assert (final["available"], final["held"]) == (FUNDS - PRICE, 0)
    assert [t["trade_id"] for t in mine] == [trade_id]
    assert admin_view.json()["close_reason"] == "buyer_confirmed"
    assert missing.status_code == 404
    assert anonymous.status_code == 401


def test_http_insufficient_funds_is_422_and_nothing_changes(api: httpx.Client) -> None:
    merchant = api.post(
        "/v1/partners", json={"name": "shop2", "kind": "merchant", "settlement_currency": "TWD"}
    )
    buyer = api.post("/v1/users", json={"handle": "poor-buyer"}).json()
    with (
        _client(api, {"X-Api-Key": merchant.json()["api_key"]}) as seller,
        _client(api, {"Authorization": f"Bearer {buyer['token']}"}) as me,
    ):
        me.post("/v1/me/wallets/TWD")
        trade = seller.post(
            "/v1/partner/escrow/trades",
            json={"trade_ref": "o-2", "amount": 1, "currency": "TWD"},
            headers={"Idempotency-Key": "t"},
        ).json()
        paid = me.post(f"/v1/me/escrow/trades/{trade['trade_id']}/pay", headers={"Idempotency-Key": "p"})
        after = me.get(f"/v1/me/escrow/trades/{trade['trade_id']}").json()
        wallet = me.get("/v1/me/wallets/TWD").json()
    assert paid.status_code == 422
    assert paid.json()["type"].endswith("/insufficient-funds")
    assert (after["state"], after["buyer_user_id"]) == ("WAIT_BUYER_PAY", None)
    assert (wallet["available"], wallet["held"]) == (0, 0)


# -- CLI -----------------------------------------------------------------------------------------------------
def test_cli_escrow_commands(shop: EscrowShop, cli: Cli) -> None:
    def ok(*args: str) -> Any:
        done = cli(*args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    user = str(shop.buyer)
    trade = ok("escrow", "create", "cli-1", "1200", "TWD", "--partner", str(shop.merchant), "--key", "c1")
    paid = ok("escrow", "pay", trade["trade_id"], "--user", user, "--key", "p1")
    before = shop.snapshot(trade["trade_id"])
    early = cli("escrow", "confirm", trade["trade_id"], "--user", user, "--key", "x1")
    assert paid["state"] == "WAIT_SELLER_SEND"
    assert (early.returncode, early.stdout) == (1, "")
    assert early.stderr.startswith("error: trade")
    assert early.stderr.count("\n") == 1
    assert shop.snapshot(trade["trade_id"]) == before
