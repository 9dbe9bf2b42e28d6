"""Withdrawals on both databases: hold → provider → post / void; limits; and the fault test against the
fake payout provider served by a real HTTP server (timeouts, failures, duplicate and late answers)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import closing
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
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.chart import AccountKind
from earnloop.wallet.donations import service as donations
from earnloop.wallet.errors import (
    FrozenError,
    InsufficientFundsError,
    InvalidAmountError,
    LimitExceededError,
    NotFoundError,
)
from earnloop.wallet.ledger_ops import balance_of
from earnloop.wallet.withdrawals import service as withdrawals
from earnloop.wallet.withdrawals.models import withdrawals as withdrawals_table
from earnloop.wallet.withdrawals.payout_fake import DirectPayoutProvider, FakeBank, create_fake_app
from earnloop.wallet.withdrawals.payouts import HttpPayoutProvider, PayoutAnswer, sign
from tests.conftest import ADMIN_TOKEN, Cli, DbTarget
from tests.integration.wallet_support import funded_user
from tests.live_server import serve

LIMITS = withdrawals.Limits(min_amount=100, daily_limit=10_000)
RISK = memory_engine(strategies=shadowed_default)  # screened, decided by allow-all (default in shadow)
DAY_S = 86_400
SECRET = "callback-secret-for-tests"


def _destination(conn: Connection, ledger: LedgerService, user_id: int, account: str) -> int:
    created = withdrawals.add_destination(
        conn,
        user_id=user_id,
        kind="bank",
        institution="Test Bank",
        holder_name="A. Holder",
        account_number=account,
        now_ns=ledger.clock.now_ns(),
        risk=RISK,
    )
    assert created["account_masked"] == "****" + account[-4:]
    assert "account_number" not in created
    return int(created["destination_id"])


def _payouts_account(conn: Connection, ledger: LedgerService) -> tuple[int, int]:
    """(credits_posted, credits_pending) of the TWD payouts account."""
    acct = balance_of(conn, ledger, service.system_account(AccountKind.PAYOUTS, currency("TWD")))
    return (0, 0) if acct is None else (acct.credits_posted, acct.credits_pending)


def _topics(conn: Connection) -> list[str]:
    return list(conn.execute(select(outbox_events.c.topic).order_by(outbox_events.c.seq)).scalars())


def _withdraw(
    db: Database, ledger: LedgerService, provider: Any, user_id: int, dest: int, amount: int, key: str
) -> dict[str, Any]:
    return withdrawals.request_withdrawal(
        db,
        ledger,
        provider,
        idempotency_key=key,
        user_id=user_id,
        destination_id=dest,
        currency_code="TWD",
        amount=amount,
        limits=LIMITS,
        risk=RISK,
    )


def test_paid_withdrawal_posts_and_a_declined_one_voids(db: Database, ledger: LedgerService) -> None:
    bank = FakeBank()
    provider = DirectPayoutProvider(bank)
    with db.uow() as conn:
        user_id = funded_user(conn, ledger, "wendy", 1_000)
        dest = _destination(conn, ledger, user_id, "0012345678")
    paid = _withdraw(db, ledger, provider, user_id, dest, 300, "w-1")
    again = _withdraw(db, ledger, provider, user_id, dest, 300, "w-1")
    bank.set_faults("0012345678", ["fail"])
    failed = _withdraw(db, ledger, provider, user_id, dest, 200, "w-2")
    with db.uow() as conn:
        view = service.view(conn, ledger, user_id, "TWD")
        payouts = _payouts_account(conn, ledger)
        topics = _topics(conn)
        kinds = [e.kind for e in service.history(conn, ledger, user_id, "TWD")]
        with pytest.raises(IdempotencyConflictError):
            withdrawals.hold(
                conn,
                ledger,
                idempotency_key="w-1",
                user_id=user_id,
                destination_id=dest,
                currency_code="TWD",
                amount=301,
                limits=LIMITS,
                risk=RISK,
            )
    assert (paid["state"], again) == ("paid", paid)
    assert (failed["state"], failed["failure_reason"]) == ("failed", "declined by the receiving institution")
    assert bank.submissions[paid["request_id"]] == 1
    assert (view.available, view.held) == (700, 0)
    assert payouts == (300, 0)
    assert topics.count("withdrawal.succeeded") == 1
    assert topics.count("withdrawal.failed") == 1
    assert kinds[:4] == ["withdrawal_returned", "withdrawal_hold", "withdrawal_paid", "withdrawal_hold"]


def test_limits_debt_and_bad_requests_change_nothing(
    db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    provider = DirectPayoutProvider(FakeBank())
    with db.uow() as conn:
        user_id = funded_user(conn, ledger, "larry", 20_000)
        dest = _destination(conn, ledger, user_id, "ACC998877")
        other = create_user(conn, "olga").id
        other_dest = _destination(conn, ledger, other, "ACC112233")
    assert _withdraw(db, ledger, provider, user_id, dest, 6_000, "l-1")["state"] == "paid"

    def rows() -> int:
        with db.uow(write=False) as conn:
            return int(conn.execute(select(func.count()).select_from(withdrawals_table)).scalar_one())

    def snapshot() -> tuple[object, ...]:
        with db.uow(write=False) as conn:
            v = service.view(conn, ledger, user_id, "TWD")
            return (v.available, v.held, v.debt, rows(), _payouts_account(conn, ledger))

    before = snapshot()
    cases: list[tuple[type[Exception], Callable[[], object]]] = [
        (InvalidAmountError, lambda: _withdraw(db, ledger, provider, user_id, dest, 99, "l-2")),
        (LimitExceededError, lambda: _withdraw(db, ledger, provider, user_id, dest, 4_001, "l-3")),
        (NotFoundError, lambda: _withdraw(db, ledger, provider, user_id, other_dest, 100, "l-4")),
        (NotFoundError, lambda: _withdraw(db, ledger, provider, user_id, 999_999, 100, "l-5")),
    ]
    for error, attempt in cases:
        with pytest.raises(error):
            attempt()
        assert snapshot() == before, error
    # A new day resets the limit; insufficient funds still refuse.
    clock.advance(seconds=DAY_S)
    assert _withdraw(db, ledger, provider, user_id, dest, 10_000, "l-6")["state"] == "paid"
    clock.advance(seconds=DAY_S)
    before = snapshot()
    with pytest.raises(InsufficientFundsError):
        _withdraw(db, ledger, provider, user_id, dest, 4_001, "l-7")
    assert snapshot() == before
    # A debt (clawback shortfall) freezes withdrawals until repaid.
    with db.uow() as conn:
        partner = cashback.Funding(AccountKind.PARTNER_FUNDING, 5)
        cashback.credit_pending(
            conn,
            ledger,
            source="shopping",
            ref="o-1",
            user_id=user_id,
            currency_code="TWD",
            amount=5_000,
            release_at_ns=1,
            funding=partner,
        )
        cashback.confirm_due(conn, ledger, clock.now_ns())
        service.adjust(
            conn,
            ledger,
            idempotency_key="spend",
            user_id=user_id,
            currency_code="TWD",
            amount=8_000,
            direction="debit",
            reason="spent",
            actor="test",
        )
        cashback.reverse(conn, ledger, source="shopping", ref="o-1")
    before = snapshot()
    assert before[2] == 4_000  # debt
    with pytest.raises(FrozenError):
        _withdraw(db, ledger, provider, user_id, dest, 100, "l-8")
    assert snapshot() == before


def test_removed_destination_cannot_be_used(db: Database, ledger: LedgerService) -> None:
    with db.uow() as conn:
        user_id = funded_user(conn, ledger, "rita", 1_000)
        dest = _destination(conn, ledger, user_id, "RM000111")
        withdrawals.remove_destination(
            conn, user_id=user_id, destination_id=dest, risk=RISK, now_ns=ledger.clock.now_ns()
        )
        assert withdrawals.list_destinations(conn, user_id) == []
        with pytest.raises(NotFoundError):
            withdrawals.remove_destination(
                conn, user_id=user_id, destination_id=dest, risk=RISK, now_ns=ledger.clock.now_ns()
            )
    with pytest.raises(NotFoundError):
        _withdraw(db, ledger, DirectPayoutProvider(FakeBank()), user_id, dest, 100, "r-1")


# -- the fault test ------------------------------------------------------------------------------------
@pytest.fixture
def payout_world(
    db: Database, db_target: DbTarget, clock: ManualClock
) -> Iterator[tuple[FakeBank, str, str]]:
    """The fake provider on a real HTTP server, and the API (for provider callbacks) on another."""
    from earnloop.api.app import create_app
    from earnloop.config import Settings

    bank = FakeBank(callback_secret=SECRET, slow_s=1.0, late_s=0.6)
    with serve(create_fake_app(bank)) as fake_url:
        settings = Settings(
            database_url=db_target.url,
            admin_token=ADMIN_TOKEN,
            payout_provider_url=fake_url,
            payout_timeout_s=0.3,
            payout_callback_secret=SECRET,
        )
        with serve(create_app(settings, db=db, clock=clock)) as app_url:
            bank.callback_url = app_url + "/v1/payouts/callbacks"
            yield bank, fake_url, app_url


def _wait(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_fault_test_no_money_lost_or_paid_twice_and_inquiry_resolves_every_unknown(
    db: Database, ledger: LedgerService, payout_world: tuple[FakeBank, str, str]
) -> None:
    bank, fake_url, app_url = payout_world
    provider = HttpPayoutProvider(fake_url, timeout_s=0.3)
    start = 10_000
    with db.uow() as conn:
        user_id = funded_user(conn, ledger, "fiona", start)
    modes = ["ok", "fail", "timeout", "timeout_declined", "lost", "error", "duplicate", "late"]
    expected_first = {
        "ok": "paid",
        "fail": "failed",
        "timeout": "unknown",
        "timeout_declined": "unknown",
        "lost": "unknown",
        "error": "unknown",
        "duplicate": "paid",
        "late": "processing",
    }
    expected_final = {
        "ok": "paid",
        "fail": "failed",
        "timeout": "paid",
        "timeout_declined": "failed",
        "lost": "paid",
        "error": "paid",
        "duplicate": "paid",
        "late": "paid",
    }
    results: dict[str, dict[str, Any]] = {}
    for i, mode in enumerate(modes):
        account = f"FAULT{i:04d}{mode[:4].upper()}"
        with db.uow() as conn:
            dest = _destination(conn, ledger, user_id, account)
        bank.set_faults(account, [mode])
        results[mode] = _withdraw(db, ledger, provider, user_id, dest, 100 * (i + 1), f"f-{mode}")
    assert {m: r["state"] for m, r in results.items()} == expected_first

    # Money of every unknown / in-flight withdrawal is still held.
    with db.uow(write=False) as conn:
        held = service.view(conn, ledger, user_id, "TWD").held
    assert held == sum(r["amount"] for r in results.values() if r["state"] in ("unknown", "processing"))

    # The duplicate answer (two callbacks) and the late answer arrive; the inquiry resolves the rest.
    _wait(lambda: bank.callbacks_sent >= 3)
    report = withdrawals.resolve_unknown(db, ledger, provider, stale_after_ns=0)
    assert report.resubmitted == 1  # "lost": the provider had never seen it → same request id again
    assert report.still_unknown == 0
    again = withdrawals.resolve_unknown(db, ledger, provider, stale_after_ns=0)
    assert again.examined == 0

    # Late and repeated answers change nothing; a contradicting one is refused.
    late = results["timeout"]
    with httpx.Client(base_url=app_url) as http:
        for status, code in (("paid", 200), ("failed", 409)):
            body = httpx.Request(
                "POST", "/", json={"request_id": late["request_id"], "status": status, "provider_ref": "x"}
            ).content
            answer = http.post(
                "/v1/payouts/callbacks",
                content=body,
                headers={"Content-Type": "application/json", "X-Payout-Signature": sign(SECRET, body)},
            )
            assert answer.status_code == code, answer.text
        forged = http.post(
            "/v1/payouts/callbacks", json={"request_id": late["request_id"], "status": "failed"}
        )
        assert forged.status_code == 401
    with db.uow() as conn:
        withdrawals.apply_answer(conn, ledger, PayoutAnswer(late["request_id"], "paid"))

    with db.uow(write=False) as conn:
        final = {m: withdrawals.get_withdrawal(conn, user_id, r["withdrawal_id"]) for m, r in results.items()}
        view = service.view(conn, ledger, user_id, "TWD")
        payouts_posted, payouts_pending = _payouts_account(conn, ledger)
        topics = _topics(conn)
    assert {m: r["state"] for m, r in final.items()} == expected_final
    paid_total = sum(r["amount"] for r in final.values() if r["state"] == "paid")
    # Invariants: nothing lost (user + payouts == start), nothing paid twice, nothing left held.
    assert (view.held, payouts_pending) == (0, 0)
    assert view.available + payouts_posted == start
    assert payouts_posted == paid_total == bank.paid_total()
    assert all(count == 1 for count in bank.executions.values())
    assert sorted(bank.executions) == sorted(r["request_id"] for r in final.values() if r["state"] == "paid")
    assert topics.count("withdrawal.succeeded") == 6
    assert topics.count("withdrawal.failed") == 2


# -- HTTP (in-app fake provider) -----------------------------------------------------------------------
def _me(api: httpx.Client, handle: str) -> tuple[httpx.Client, int]:
    created = api.post("/v1/users", json={"handle": handle})
    assert created.status_code == 201
    me = httpx.Client(
        base_url=str(api.base_url), headers={"Authorization": f"Bearer {created.json()['token']}"}
    )
    user_id = int(me.post("/v1/me/wallets/TWD").json()["user_id"])
    credit = api.post(
        f"/v1/admin/users/{user_id}/wallets/TWD/adjustments",
        json={"amount": 5_000, "direction": "credit", "reason": "test"},
        headers={"Idempotency-Key": f"fund-{handle}"},
    )
    assert credit.status_code == 200
    return me, user_id


def test_http_withdrawal_unknown_then_resolved_and_errors(api: httpx.Client) -> None:
    me, _ = _me(api, "hank")
    with closing(me):
        dest = me.post(
            "/v1/me/payout-destinations",
            json={
                "kind": "ewallet",
                "institution": "LINE Pay",
                "holder_name": "Hank",
                "account_number": "0911222333",
            },
        )
        assert dest.status_code == 201
        assert dest.json()["account_masked"] == "****2333"
        assert "0911222333" not in me.get("/v1/me/payout-destinations").text
        dest_id = dest.json()["destination_id"]
        body = {"destination_id": dest_id, "currency": "TWD", "amount": 1_000}
        paid = me.post("/v1/me/withdrawals", json=body, headers={"Idempotency-Key": "h-1"})
        assert (paid.status_code, paid.json()["state"]) == (200, "paid")
        replay = me.post("/v1/me/withdrawals", json=body, headers={"Idempotency-Key": "h-1"})
        assert replay.json() == paid.json()
        assert api.put("/fake-payouts/faults/0911222333", json={"modes": ["timeout"]}).status_code == 204
        unknown = me.post("/v1/me/withdrawals", json=body, headers={"Idempotency-Key": "h-2"}).json()
        assert unknown["state"] == "unknown"
        assert me.get("/v1/me/wallets/TWD").json()["held"] == 1_000
        resolved = api.post("/v1/admin/withdrawals/resolve").json()
        assert (resolved["examined"], resolved["paid"]) == (1, 1)
        assert me.get(f"/v1/me/withdrawals/{unknown['withdrawal_id']}").json()["state"] == "paid"
        assert [w["state"] for w in me.get("/v1/me/withdrawals").json()] == ["paid", "paid"]
        before = me.get("/v1/me/wallets/TWD").json()
        errors = [
            (me.post("/v1/me/withdrawals", json=body), 422, "validation-error"),
            (
                me.post(
                    "/v1/me/withdrawals", json={**body, "amount": 50}, headers={"Idempotency-Key": "h-3"}
                ),
                422,
                "invalid-amount",
            ),
            (
                me.post(
                    "/v1/me/withdrawals", json={**body, "amount": 3_001}, headers={"Idempotency-Key": "h-4"}
                ),
                422,
                "insufficient-funds",
            ),
            (
                me.post(
                    "/v1/me/withdrawals",
                    json={**body, "destination_id": 999},
                    headers={"Idempotency-Key": "h-5"},
                ),
                404,
                "not-found",
            ),
            (
                me.post(
                    "/v1/me/withdrawals", json={**body, "amount": 999}, headers={"Idempotency-Key": "h-1"}
                ),
                409,
                "exists-with-different-fields",
            ),
            (me.get("/v1/me/withdrawals/999"), 404, "not-found"),
            (
                api.post("/v1/payouts/callbacks", json={"request_id": "x", "status": "paid"}),
                401,
                "unauthorized",
            ),
        ]
        for response, status, slug in errors:
            assert response.status_code == status, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["type"].endswith("/" + slug)
        assert me.get("/v1/me/wallets/TWD").json() == before
        assert len(me.get("/v1/me/withdrawals").json()) == 2
        assert httpx.get(str(api.base_url).rstrip("/") + "/v1/me/withdrawals").status_code == 401


# -- CLI (subprocess) ----------------------------------------------------------------------------------
# Each invocation is a fresh Python process (seconds on a busy machine): set-up goes through the services,
# the commands under test run as subprocesses.
def test_cli_withdraw_resolve_and_statement(db: Database, cli: Cli) -> None:
    ledger = LedgerService(ManualClock(time.time_ns()))
    with db.uow() as conn:
        user = funded_user(conn, ledger, "cindy", 5_000)
        dest = _destination(conn, ledger, user, "CLI00012345")
        charity = create_partner(conn, "Food Bank", "charity", "TWD").id
        campaign = donations.create_campaign(
            conn,
            ledger,
            charity_id=charity,
            name="Winter meals",
            currency_code="TWD",
            goal=100_000,
            starts_at_ns=0,
            ends_at_ns=2**62,
        )["campaign_id"]
        donations.donate(conn, ledger, idempotency_key="d-1", user_id=user, campaign_id=campaign, amount=1)
    bank = FakeBank(slow_s=0.5)
    bank.set_faults("CLI00012345", ["timeout"])

    def wallet() -> tuple[int, int]:
        with db.uow(write=False) as conn:
            view = service.view(conn, ledger, user, "TWD")
        return view.available, view.held

    with serve(create_fake_app(bank)) as fake_url:
        provider = {"EARNLOOP_PAYOUT_PROVIDER_URL": fake_url, "EARNLOOP_PAYOUT_TIMEOUT_S": "0.2"}

        def ok(*args: str) -> Any:
            done = cli(*args, **provider)
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout.strip().splitlines()[-1])

        first = ok(
            "withdrawals", "request", str(user), "TWD", "700", "--destination", str(dest), "--key", "c-1"
        )
        assert first["state"] == "unknown"
        report = ok("withdrawals", "resolve", "--stale-after-s", "0")
        assert (report["examined"], report["paid"]) == (1, 1)
        before = wallet()
        too_small = cli(
            "withdrawals",
            "request",
            str(user),
            "TWD",
            "5",
            "--destination",
            str(dest),
            "--key",
            "c-2",
            **provider,
        )
        assert too_small.returncode == 1
        assert too_small.stderr.startswith("error: amount must be")
        assert len(too_small.stderr.strip().splitlines()) == 1
        assert wallet() == before
        statement = ok("donations", "statement", str(charity), "TWD")
    assert bank.executions == {first["request_id"]: 1}
    assert (statement["donations_total"], statement["ledger_balance"], statement["reconciled"]) == (
        1,
        1,
        True,
    )
    assert statement["donations"][0]["donor"] == "c***y"
    assert wallet() == (5_000 - 700 - 1, 0)
