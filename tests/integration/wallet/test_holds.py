"""Deposit holds on both databases: policy and per-user override amounts, capture part or all, release,
expiry driven by the manual clock, every error path (nothing changed), HTTP and the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, func, select

from earnloop.currencies import currency
from earnloop.db.engine import Database
from earnloop.idempotency.service import IdempotencyConflictError
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.outbox.models import outbox_events
from earnloop.wallet import service
from earnloop.wallet.chart import AccountKind
from earnloop.wallet.errors import (
    InsufficientFundsError,
    InvalidAmountError,
    NotFoundError,
    StateConflictError,
)
from earnloop.wallet.escrow.service import Actor, DuplicateRefError, ForbiddenError
from earnloop.wallet.holds import service as holds
from earnloop.wallet.holds.errors import ExceedsHoldError, HoldExpiredError
from earnloop.wallet.holds.models import deposit_holds
from earnloop.wallet.ledger_ops import balance_of
from earnloop.worker import expire_holds, sweep_once
from tests.conftest import Cli
from tests.integration.wallet.shop import FUNDS, Shop

DEPOSIT = 3_000
HOUR_S = 3_600


class Rental(Shop):
    """A car-share merchant with a deposit policy, another merchant, a funded driver and a poor one."""

    MERCHANT = "car-share"
    OTHER_MERCHANT = "scooters"
    BUYER = "driver"
    STRANGER = "poor-driver"
    FUND_KEY = "fund"

    def __init__(self, db: Database, ledger: LedgerService) -> None:
        super().__init__(db, ledger)
        self.me = Actor("merchant", self.merchant)

    def set_up(self, conn: Connection) -> None:
        holds.set_policy(conn, product="sedan", currency_code="TWD", partner_id=self.merchant, amount=DEPOSIT)

    @property
    def other(self) -> int:
        return self.other_merchant

    @property
    def driver(self) -> int:
        return self.buyer

    @property
    def poor(self) -> int:
        return self.stranger

    def place(
        self, ref: str = "rental-1", *, user: int | None = None, actor: Actor | None = None, **extra: Any
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"product": "sedan", "currency_code": "TWD", "expires_in_s": HOUR_S, **extra}
        return self.do(  # type: ignore[no-any-return]
            lambda c: holds.place_hold(
                c,
                self.ledger,
                idempotency_key=self.key(),
                actor=actor or self.me,
                user_id=user or self.driver,
                ref=ref,
                **args,
            )
        )

    def capture(self, hold_id: str, amount: int, actor: Actor | None = None) -> dict[str, Any]:
        return self.do(  # type: ignore[no-any-return]
            lambda c: holds.capture(
                c,
                self.ledger,
                idempotency_key=self.key(),
                hold_id=hold_id,
                actor=actor or self.me,
                amount=amount,
                reason="scratched door",
            )
        )

    def release(self, hold_id: str, actor: Actor | None = None) -> dict[str, Any]:
        return self.do(  # type: ignore[no-any-return]
            lambda c: holds.release(
                c, self.ledger, idempotency_key=self.key(), hold_id=hold_id, actor=actor or self.me
            )
        )

    def hold(self, hold_id: str) -> dict[str, Any]:
        return self.do(lambda c: holds.get_hold(c, self.ledger, hold_id))  # type: ignore[no-any-return]

    def snapshot(self) -> dict[str, Any]:
        with self.db.uow(write=False) as conn:
            deposits = balance_of(
                conn, self.ledger, service.system_account(AccountKind.DEPOSITS, currency("TWD"))
            )
            return {
                "driver": service.view(conn, self.ledger, self.driver, "TWD"),
                "poor": service.view(conn, self.ledger, self.poor, "TWD"),
                "deposits": None if deposits is None else (deposits.credits_pending, deposits.credits_posted),
                "holds": [
                    tuple(r) for r in conn.execute(select(deposit_holds).order_by(deposit_holds.c.hold_id))
                ],
                "events": conn.execute(select(func.count()).select_from(outbox_events)).scalar_one(),
            }


@pytest.fixture
def rental(db: Database, ledger: LedgerService) -> Rental:
    return Rental(db, ledger)


def test_place_then_capture_part_releases_the_rest(rental: Rental) -> None:
    placed = rental.place()
    held = rental.snapshot()
    captured = rental.capture(placed["hold_id"], 1_200)
    after = rental.snapshot()
    assert (placed["state"], placed["amount"], placed["amount_basis"]) == ("held", DEPOSIT, "policy")
    assert (held["driver"].available, held["driver"].held) == (FUNDS - DEPOSIT, DEPOSIT)
    assert held["deposits"] == (DEPOSIT, 0)
    assert (captured["state"], captured["captured"], captured["released"]) == ("captured", 1_200, 1_800)
    assert (after["driver"].available, after["driver"].held) == (FUNDS - 1_200, 0)
    assert after["deposits"] == (0, 1_200)
    (event,) = rental.events()
    assert (event["topic"], event["partner_id"], event["captured"], event["reason"]) == (
        "hold.captured",
        rental.merchant,
        1_200,
        "scratched door",
    )
    with rental.db.uow(write=False) as conn:
        history = service.history(conn, rental.ledger, rental.driver, "TWD")
        mine = holds.list_user_holds(conn, rental.ledger, rental.driver)
    assert [(h.kind, h.amount) for h in history[:2]] == [
        ("deposit_capture", -1_200),
        ("deposit_hold", -DEPOSIT),
    ]
    assert [h["hold_id"] for h in mine] == [placed["hold_id"]]


def test_capture_all_and_release_and_the_override_amount(rental: Rental) -> None:
    whole = rental.place("r-all")
    assert rental.capture(whole["hold_id"], DEPOSIT)["released"] == 0
    rental.do(
        lambda c: holds.set_override(
            c, product="sedan", currency_code="TWD", user_id=rental.driver, amount=500, reason="loyal driver"
        )
    )
    overridden = rental.place("r-override")
    released = rental.release(overridden["hold_id"])
    rental.do(lambda c: holds.delete_override(c, product="sedan", currency_code="TWD", user_id=rental.driver))
    back_to_policy = rental.place("r-policy")
    after = rental.snapshot()
    assert (overridden["amount"], overridden["amount_basis"]) == (500, "override")
    assert (released["state"], released["released"]) == ("released", 500)
    assert back_to_policy["amount_basis"] == "policy"
    assert (after["driver"].available, after["driver"].held) == (FUNDS - 2 * DEPOSIT, DEPOSIT)
    assert [e["topic"] for e in rental.events()] == ["hold.captured", "hold.released"]


def test_replays_and_reused_refs(rental: Rental) -> None:
    def place(key: str, ref: str, expires_in_s: int = HOUR_S) -> dict[str, Any]:
        return rental.do(  # type: ignore[no-any-return]
            lambda c: holds.place_hold(
                c,
                rental.ledger,
                idempotency_key=key,
                actor=rental.me,
                product="sedan",
                user_id=rental.driver,
                currency_code="TWD",
                ref=ref,
                expires_in_s=expires_in_s,
            )
        )

    first = place("h-1", "r-1")
    assert place("h-1", "r-1") == first
    before = rental.snapshot()
    with pytest.raises(IdempotencyConflictError):
        place("h-1", "r-1", expires_in_s=HOUR_S + 1)
    with pytest.raises(DuplicateRefError):
        place("h-2", "r-1")
    assert rental.snapshot() == before
    assert before["driver"].held == DEPOSIT


def test_capture_and_release_errors_change_nothing(rental: Rental) -> None:
    hold_id = rental.place()["hold_id"]
    before = rental.snapshot()
    attempts: list[tuple[Callable[[], object], type[Exception]]] = [
        (lambda: rental.capture(hold_id, DEPOSIT + 1), ExceedsHoldError),
        (lambda: rental.capture(hold_id, 0), InvalidAmountError),
        (lambda: rental.capture(hold_id, 10, actor=Actor("merchant", rental.other)), NotFoundError),
        (lambda: rental.release(hold_id, actor=Actor("merchant", rental.other)), NotFoundError),
        (lambda: rental.release("hd_missing"), NotFoundError),
    ]
    for attempt, error in attempts:
        with pytest.raises(error):
            attempt()
        assert rental.snapshot() == before, error
    rental.capture(hold_id, 100)
    captured = rental.snapshot()
    for attempt in (lambda: rental.capture(hold_id, 100), lambda: rental.release(hold_id)):
        with pytest.raises(StateConflictError) as raised:
            attempt()
        assert raised.value.status == 409
        assert rental.snapshot() == captured
    released_id = rental.place("r-2")["hold_id"]
    rental.release(released_id)
    released = rental.snapshot()
    for attempt in (lambda: rental.capture(released_id, 1), lambda: rental.release(released_id)):
        with pytest.raises(StateConflictError):
            attempt()
        assert rental.snapshot() == released


def test_place_errors_change_nothing(rental: Rental) -> None:
    before = rental.snapshot()
    attempts: list[tuple[Callable[[], object], type[Exception]]] = [
        (lambda: rental.place(user=rental.poor), InsufficientFundsError),
        (lambda: rental.place(product="truck"), NotFoundError),  # no policy
        (lambda: rental.place(actor=Actor("merchant", rental.other)), NotFoundError),  # not its product
        (lambda: rental.place(actor=Actor("merchant", rental.charity)), ForbiddenError),
        (lambda: rental.place(actor=Actor("buyer", rental.driver)), ForbiddenError),
        (lambda: rental.place(user=999), NotFoundError),
        (lambda: rental.place(currency_code="USD"), NotFoundError),  # no USD wallet
        (lambda: rental.place(expires_in_s=5), InvalidAmountError),
        (lambda: rental.place(ref=""), InvalidAmountError),
    ]
    for attempt, error in attempts:
        with pytest.raises(error):
            attempt()
        assert rental.snapshot() == before, error


def test_expiry_releases_the_money_and_late_capture_or_release_is_409(
    rental: Rental, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    hold_id = rental.place(expires_in_s=HOUR_S)["hold_id"]
    clock.advance(seconds=HOUR_S - 1)
    assert expire_holds(db, ledger) == 0
    assert rental.hold(hold_id)["state"] == "held"
    clock.advance(seconds=2)
    assert rental.hold(hold_id)["state"] == "expired"  # seen as expired before any sweep
    before = rental.snapshot()
    for attempt in (lambda: rental.capture(hold_id, 100), lambda: rental.release(hold_id)):
        with pytest.raises(HoldExpiredError) as raised:
            attempt()
        assert (raised.value.status, raised.value.slug) == (409, "hold-expired")
        assert rental.snapshot() == before
    assert sweep_once(db, ledger) == 1
    assert expire_holds(db, ledger) == 1
    assert expire_holds(db, ledger) == 0
    after = rental.snapshot()
    assert (after["driver"].available, after["driver"].held, after["deposits"]) == (FUNDS, 0, (0, 0))
    assert rental.hold(hold_id)["state"] == "expired"
    (event,) = rental.events()
    assert (event["topic"], event["reason"], event["released"]) == ("hold.released", "expired", DEPOSIT)
    with pytest.raises(HoldExpiredError):
        rental.capture(hold_id, 1)


def test_policy_rules(rental: Rental) -> None:
    before = rental.snapshot()
    attempts: list[tuple[Callable[[Connection], object], type[Exception]]] = [
        (
            lambda c: holds.set_policy(
                c, product="sedan", currency_code="TWD", partner_id=rental.other, amount=1
            ),
            StateConflictError,  # another merchant's product
        ),
        (
            lambda c: holds.set_policy(
                c, product="van", currency_code="TWD", partner_id=rental.charity, amount=1
            ),
            ForbiddenError,
        ),
        (
            lambda c: holds.set_policy(
                c,
                product="van",
                currency_code="TWD",
                partner_id=rental.merchant,
                amount=1,
                min_credit_score=2_000,
            ),
            InvalidAmountError,
        ),
        (
            lambda c: holds.set_override(
                c, product="van", currency_code="TWD", user_id=rental.driver, amount=1, reason="x"
            ),
            NotFoundError,
        ),
        (
            lambda c: holds.delete_override(c, product="sedan", currency_code="TWD", user_id=rental.driver),
            NotFoundError,
        ),
    ]
    for attempt, error in attempts:
        with pytest.raises(error), rental.db.uow() as conn:
            attempt(conn)
    assert rental.snapshot() == before
    updated = rental.do(
        lambda c: holds.set_policy(
            c,
            product="sedan",
            currency_code="TWD",
            partner_id=rental.merchant,
            amount=4_000,
            min_credit_score=700,
        )
    )
    listed = rental.do(lambda c: holds.list_policies(c, partner_id=rental.merchant))
    assert (updated["amount"], updated["min_credit_score"]) == (4_000, 700)
    assert [(p["product"], p["amount"]) for p in listed] == [("sedan", 4_000)]


def test_a_request_holds_nothing_expires_unapproved_and_can_be_withdrawn(
    rental: Rental, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    def request(ref: str) -> dict[str, Any]:
        return rental.do(  # type: ignore[no-any-return]
            lambda c: holds.request_hold(
                c,
                rental.ledger,
                idempotency_key=rental.key(),
                merchant_id=rental.merchant,
                product="sedan",
                user_id=rental.driver,
                currency_code="TWD",
                ref=ref,
                approve_within_s=60,
            )
        )

    lapsing, withdrawn = request("r-lapse"), request("r-withdraw")
    released = rental.release(withdrawn["hold_id"])
    assert (lapsing["state"], lapsing["expires_at_ns"], lapsing["approved_via"]) == ("requested", None, None)
    assert (released["state"], released["reason"], released["released"]) == ("released", "withdrawn", 0)
    assert (rental.snapshot()["driver"].available, rental.snapshot()["driver"].held) == (FUNDS, 0)
    clock.advance(seconds=61)
    assert rental.hold(lapsing["hold_id"])["state"] == "expired"
    before = rental.snapshot()
    with pytest.raises(holds.HoldRequestExpiredError) as raised:
        rental.do(
            lambda c: holds.approve(
                c, ledger, idempotency_key="late", hold_id=lapsing["hold_id"], user_id=rental.driver
            )
        )
    assert (raised.value.status, raised.value.slug) == (409, "hold-request-expired")
    assert rental.snapshot() == before
    assert expire_holds(db, ledger) == 1
    assert expire_holds(db, ledger) == 0
    assert [(e["topic"], e["reason"]) for e in rental.events()] == [
        ("hold.released", "withdrawn"),
        ("hold.declined", "expired"),
    ]


# -- HTTP ----------------------------------------------------------------------------------------------------
def _client(api: httpx.Client, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=str(api.base_url), headers=headers, timeout=30)


def test_http_hold_lifecycle_and_problem_answers(api: httpx.Client, clock: ManualClock) -> None:
    merchant = api.post(
        "/v1/partners", json={"name": "cars", "kind": "merchant", "settlement_currency": "TWD"}
    )
    driver = api.post("/v1/users", json={"handle": "http-driver"}).json()
    partner_id = merchant.json()["partner_id"]
    with (
        _client(api, {"X-Api-Key": merchant.json()["api_key"]}) as cars,
        _client(api, {"Authorization": f"Bearer {driver['token']}"}) as me,
    ):
        me.post("/v1/me/wallets/TWD")
        api.post(
            f"/v1/admin/users/{driver['user_id']}/wallets/TWD/adjustments",
            json={"amount": FUNDS, "direction": "credit", "reason": "test"},
            headers={"Idempotency-Key": "fund"},
        )
        policy = api.put(
            "/v1/admin/deposit-policies/sedan/TWD", json={"partner_id": partner_id, "amount": DEPOSIT}
        )
        override = api.put(
            f"/v1/admin/deposit-policies/sedan/TWD/overrides/{driver['user_id']}",
            json={"amount": 2_000, "reason": "good record"},
        )
        body = {"product": "sedan", "user_id": driver["user_id"], "currency": "TWD", "ref": "trip-1"}
        no_key = cars.post("/v1/partner/holds", json=body)
        placed = cars.post("/v1/partner/holds", json=body, headers={"Idempotency-Key": "h1"})
        hold_id = placed.json()["hold_id"]
        approved = me.post(f"/v1/me/holds/{hold_id}/approve", headers={"Idempotency-Key": "a1"})
        wallet = me.get("/v1/me/wallets/TWD").json()
        mine = me.get("/v1/me/holds").json()
        too_much = cars.post(
            f"/v1/partner/holds/{hold_id}/capture",
            json={"amount": 2_001, "reason": "damage"},
            headers={"Idempotency-Key": "c1"},
        )
        captured = cars.post(
            f"/v1/partner/holds/{hold_id}/capture",
            json={"amount": 700, "reason": "late fee"},
            headers={"Idempotency-Key": "c2"},
        )
        twice = cars.post(f"/v1/partner/holds/{hold_id}/release", headers={"Idempotency-Key": "r1"})
        after = me.get("/v1/me/wallets/TWD").json()
        second = api.post(
            "/v1/admin/holds",
            json={**body, "ref": "trip-2", "expires_in_s": 600},
            headers={"Idempotency-Key": "a"},
        )
        clock.advance(seconds=601)
        expired = cars.post(
            f"/v1/partner/holds/{second.json()['hold_id']}/release", headers={"Idempotency-Key": "r2"}
        )
        seen = me.get(f"/v1/me/holds/{second.json()['hold_id']}").json()
        policies = api.get("/v1/admin/deposit-policies").json()
    assert (policy.status_code, override.status_code) == (200, 200)
    assert no_key.status_code == 422
    assert placed.status_code == 201, placed.text
    assert (placed.json()["amount"], placed.json()["amount_basis"]) == (2_000, "override")
    assert (placed.json()["state"], approved.status_code, approved.json()["state"]) == (
        "requested",
        200,
        "held",
    )
    assert (wallet["available"], wallet["held"]) == (FUNDS - 2_000, 2_000)
    assert [h["state"] for h in mine] == ["held"]
    assert too_much.status_code == 422
    assert too_much.json()["type"].endswith("/exceeds-hold")
    assert (captured.json()["captured"], captured.json()["released"]) == (700, 1_300)
    assert twice.status_code == 409
    assert (after["available"], after["held"]) == (FUNDS - 700, 0)
    assert second.json()["partner_id"] == partner_id
    assert expired.status_code == 409
    assert expired.headers["content-type"].startswith("application/problem+json")
    assert expired.json()["type"].endswith("/hold-expired")
    assert seen["state"] == "expired"
    assert [p["product"] for p in policies] == ["sedan"]


# -- CLI -----------------------------------------------------------------------------------------------------
def test_cli_hold_commands(rental: Rental, cli: Cli) -> None:
    placed = cli("holds", "place", "sedan", str(rental.driver), "TWD", "trip-1", "--key", "h1")
    assert placed.returncode == 0, placed.stderr
    hold_id = json.loads(placed.stdout)["hold_id"]
    before = rental.snapshot()
    too_much = cli("holds", "capture", hold_id, str(DEPOSIT + 1), "--reason", "damage", "--key", "c1")
    assert json.loads(placed.stdout)["amount"] == DEPOSIT
    assert (too_much.returncode, too_much.stdout) == (1, "")
    assert too_much.stderr == f"error: capture of {DEPOSIT + 1} exceeds the {DEPOSIT} held\n"
    assert rental.snapshot() == before


def test_cli_decline_and_mandate_commands(rental: Rental, cli: Cli) -> None:
    requested = rental.do(
        lambda c: holds.request_hold(
            c,
            rental.ledger,
            idempotency_key="req-1",
            merchant_id=rental.merchant,
            product="sedan",
            user_id=rental.driver,
            currency_code="TWD",
            ref="cli-req",
        )
    )
    user = str(rental.driver)
    # the subprocess runs on the system clock, past this test's manual one: declining needs no deadline
    declined = cli("holds", "decline", requested["hold_id"], "--user", user, "--key", "d1")
    granted = cli(
        "holds", "grant-mandate", str(rental.merchant), "TWD", "5000", "--user", user, "--key", "g1"
    )
    assert declined.returncode == 0, declined.stderr
    assert json.loads(declined.stdout)["state"] == "declined"
    assert rental.snapshot()["driver"].held == 0
    assert granted.returncode == 0, granted.stderr
    mandate_id = json.loads(granted.stdout)["mandate_id"]
    revoked = cli("holds", "revoke-mandate", mandate_id, "--user", user)
    listed = cli("holds", "mandates", "--user", user)
    assert revoked.returncode == 0, revoked.stderr
    assert [(m["mandate_id"], m["state"]) for m in json.loads(listed.stdout)] == [(mandate_id, "revoked")]
