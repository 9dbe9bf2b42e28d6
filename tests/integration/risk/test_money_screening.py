"""The risk engine in the money-moving paths, over real HTTP on SQLite and PostgreSQL: a denied payment,
pay-code charge or withdrawal moves no money and answers problem+json, and its retry with the same key
gets the same answer; a payment held for review is refused at the till with the review recorded; a
withdrawal held for review keeps its money reserved and is not submitted to the payout provider until
a reviewer approves it, a rejected one gives the money back, and of two reviewers deciding at once one
wins; the default strategy refuses a stolen account's withdrawal."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService
from earnloop.risk.models import risk_decisions, risk_reviews
from earnloop.risk.reviews import ReviewError
from earnloop.risk.rules import Rule, Strategy
from earnloop.wallet.cashback.reviews import decide_review
from tests.conftest import Cli

# Outcomes by amount, so that each test chooses what the engine decides.
BY_AMOUNT = Strategy(
    "money-test-1",
    (
        Rule("big_payment", 'kind == "payment" && amount >= 50000', "block", 100),
        Rule("largish_payment", 'kind == "payment" && amount >= 20000 && amount < 50000', "review", 10),
        Rule("big_withdrawal", 'kind == "withdrawal" && amount >= 3000', "block", 100),
        Rule("largish_withdrawal", 'kind == "withdrawal" && amount >= 1000 && amount < 3000', "review", 10),
        Rule("third_destination", 'kind == "account_change" && other_destinations >= 2', "block", 100),
    ),
)
FUNDS = 100_000
DEVICE = {"X-Device-Id": "phone-of-the-user"}
REVIEWER = {"reviewer": "rita", "note": "called the user back"}


@contextmanager
def _client(api: httpx.Client, **headers: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=str(api.base_url), headers=headers, timeout=30) as client:
        yield client


@contextmanager
def _user(api: httpx.Client, handle: str) -> Iterator[httpx.Client]:
    """A user with ``FUNDS`` TWD available, sending its device id with every request."""
    token = api.post("/v1/users", json={"handle": handle}).json()["token"]
    with _client(api, Authorization=f"Bearer {token}", **DEVICE) as me:
        user_id = me.post("/v1/me/wallets/TWD").json()["user_id"]
        funded = api.post(
            f"/v1/admin/users/{user_id}/wallets/TWD/adjustments",
            json={"amount": FUNDS, "direction": "credit", "reason": "top-up"},
            headers={"Idempotency-Key": f"fund-{handle}"},
        )
        assert funded.status_code == 200, funded.text
        yield me


@contextmanager
def _merchant(api: httpx.Client, name: str) -> Iterator[httpx.Client]:
    created = api.post("/v1/partners", json={"name": name, "kind": "merchant", "settlement_currency": "TWD"})
    with _client(api, **{"X-Api-Key": created.json()["api_key"]}) as merchant:
        yield merchant


def _wallet(me: httpx.Client) -> tuple[int, int]:
    wallet = me.get("/v1/me/wallets/TWD").json()
    return int(wallet["available"]), int(wallet["held"])


def _problem(response: httpx.Response, slug: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/" + slug)


def _decisions(db: Database, kind: str) -> list[dict[str, Any]]:
    with db.uow(write=False) as conn:
        query = select(risk_decisions).where(risk_decisions.c.kind == kind).order_by(risk_decisions.c.id)
        return [dict(row._mapping) for row in conn.execute(query)]


def _order(merchant: httpx.Client, order_id: str, amount: int) -> str:
    order = merchant.post("/v1/merchant/orders", json={"order_id": order_id, "amount": amount})
    assert order.status_code == 200, order.text
    return str(order.json()["order_id"])


@pytest.mark.parametrize("risk", [BY_AMOUNT], indirect=True)
def test_a_denied_payment_moves_no_money_and_its_retry_gets_the_same_answer(
    api: httpx.Client, db: Database
) -> None:
    with _user(api, "pam") as me, _merchant(api, "Big Shop") as shop:
        token = _order(shop, "o-1", 60_000)
        first = me.post(f"/v1/me/orders/{token}/confirm", headers={"Idempotency-Key": "c-1"})
        _problem(first, "risk-denied")
        again = me.post(f"/v1/me/orders/{token}/confirm", headers={"Idempotency-Key": "c-1"})
        assert (again.status_code, again.json()) == (403, first.json())
        assert _wallet(me) == (FUNDS, 0)
        assert shop.get("/v1/merchant/settlement").json()["balance"] == 0
        assert shop.get("/v1/merchant/orders/o-1").json()["state"] == "awaiting_user"
        (decision,) = _decisions(db, "payment")
        assert (decision["decision"], decision["reasons"], decision["amount"]) == (
            "deny",
            "big_payment",
            60_000,
        )
        activation = json.loads(decision["activation"])
        assert activation["key_device"] == DEVICE["X-Device-Id"]
        assert activation["key_ip24"] == "127.0.0.0/24"
        assert activation["key_payee"].startswith("merchant:")
        paid = me.post(
            f"/v1/me/orders/{_order(shop, 'o-2', 500)}/confirm", headers={"Idempotency-Key": "c-2"}
        )
        assert (paid.status_code, paid.json()["state"]) == (200, "paid")
        assert _wallet(me) == (FUNDS - 500, 0)


@pytest.mark.parametrize("risk", [BY_AMOUNT], indirect=True)
def test_a_payment_held_for_review_is_refused_at_the_till_with_the_review_recorded(
    api: httpx.Client, db: Database
) -> None:
    with _user(api, "rob") as me, _merchant(api, "Mid Shop") as shop:
        token = _order(shop, "o-1", 30_000)
        held = me.post(f"/v1/me/orders/{token}/confirm", headers={"Idempotency-Key": "c-1"})
        _problem(held, "risk-review")
        assert "review" in held.json()["detail"]
        assert _wallet(me) == (FUNDS, 0)
        with db.uow(write=False) as conn:
            reviews = conn.execute(select(risk_reviews).where(risk_reviews.c.source == "payment")).all()
        assert [(r.status, r.reasons) for r in reviews] == [("open", "largish_payment")]


@pytest.mark.parametrize("risk", [BY_AMOUNT], indirect=True)
def test_a_denied_pay_code_charge_moves_no_money_and_uses_the_code_up(
    api: httpx.Client, db: Database
) -> None:
    with _user(api, "cody") as me, _merchant(api, "Till Shop") as shop:
        code = me.post("/v1/me/pay-codes", json={"currency": "TWD"}).json()["code"]
        charge = {"code": code, "order_id": "till-1", "amount": 70_000}
        first = shop.post("/v1/merchant/pay-codes/charge", json=charge, headers={"Idempotency-Key": "k-1"})
        _problem(first, "risk-denied")
        again = shop.post("/v1/merchant/pay-codes/charge", json=charge, headers={"Idempotency-Key": "k-1"})
        assert (again.status_code, again.json()) == (403, first.json())
        other_key = shop.post(
            "/v1/merchant/pay-codes/charge", json=charge, headers={"Idempotency-Key": "k-2"}
        )
        assert (other_key.status_code, other_key.json()["type"].rsplit("/", 1)[1]) == (409, "pay-code-used")
        assert _wallet(me) == (FUNDS, 0)
        assert shop.get("/v1/merchant/settlement").json()["balance"] == 0
        (decision,) = _decisions(db, "payment")
        assert "key_device" not in json.loads(decision["activation"])  # the till's request, not the payer's


def _destination(me: httpx.Client, account: str) -> int:
    body = {"kind": "bank", "institution": "Test Bank", "holder_name": "A. Holder", "account_number": account}
    created = me.post("/v1/me/payout-destinations", json=body)
    assert created.status_code == 201, created.text
    return int(created.json()["destination_id"])


def _withdraw(me: httpx.Client, destination_id: int, amount: int, key: str) -> httpx.Response:
    body = {"destination_id": destination_id, "currency": "TWD", "amount": amount}
    return me.post("/v1/me/withdrawals", json=body, headers={"Idempotency-Key": key})


def _at_provider(api: httpx.Client, request_id: str) -> int:
    return api.get(f"/fake-payouts/payouts/{request_id}").status_code


@pytest.mark.parametrize("risk", [BY_AMOUNT], indirect=True)
def test_a_denied_withdrawal_holds_nothing_and_its_retry_gets_the_same_answer(
    api: httpx.Client, db: Database
) -> None:
    with _user(api, "dora") as me:
        dest = _destination(me, "0012345678")
        first = _withdraw(me, dest, 4_000, "w-1")
        _problem(first, "risk-denied")
        again = _withdraw(me, dest, 4_000, "w-1")
        assert (again.status_code, again.json()) == (403, first.json())
        assert _wallet(me) == (FUNDS, 0)
        assert me.get("/v1/me/withdrawals").json() == []
        (decision,) = _decisions(db, "withdrawal")
        activation = json.loads(decision["activation"])
        assert activation["share_of_balance_bps"] == 4_000 * 10_000 // FUNDS
        assert activation["key_payee"].startswith("acct:")
        assert "0012345678" not in decision["activation"]


@pytest.mark.parametrize("risk", [BY_AMOUNT], indirect=True)
def test_a_withdrawal_in_review_is_not_submitted_until_a_reviewer_approves_it(
    api: httpx.Client, db: Database, ledger: LedgerService
) -> None:
    with _user(api, "iris") as me:
        dest = _destination(me, "0099887766")
        held = _withdraw(me, dest, 1_500, "w-1")
        assert (held.status_code, held.json()["state"]) == (200, "in_review"), held.text
        withdrawal = held.json()
        with db.uow() as conn:  # a reward's reviewer cannot decide it: the withdrawal would be stuck
            (review,) = conn.execute(select(risk_reviews.c.id)).scalars()
            with pytest.raises(ReviewError, match="holds a withdrawal"):
                decide_review(conn, ledger, review, approve=False, reviewer="rita", note="not a reward")
        assert _withdraw(me, dest, 1_500, "w-1").json() == withdrawal  # the retry: the same answer
        assert _wallet(me) == (FUNDS - 1_500, 1_500)
        assert _at_provider(api, withdrawal["request_id"]) == 404
        api.post("/v1/admin/withdrawals/resolve")  # the resolve sweep leaves it alone too
        assert _at_provider(api, withdrawal["request_id"]) == 404
        queue = api.get("/v1/admin/withdrawals/in-review").json()
        assert [(w["withdrawal_id"], w["review"]["reasons"]) for w in queue] == [
            (withdrawal["withdrawal_id"], ["largish_withdrawal"])
        ]
        approved = api.post(f"/v1/admin/withdrawals/{withdrawal['withdrawal_id']}/approve", json=REVIEWER)
        assert approved.status_code == 200, approved.text
        assert (approved.json()["state"], approved.json()["review"]["reviewer"]) == ("paid", "rita")
        assert _at_provider(api, withdrawal["request_id"]) == 200
        assert _wallet(me) == (FUNDS - 1_500, 0)
        second = api.post(f"/v1/admin/withdrawals/{withdrawal['withdrawal_id']}/reject", json=REVIEWER)
        assert (second.status_code, second.json()["type"].rsplit("/", 1)[1]) == (409, "review-decided")
        assert api.get("/v1/admin/withdrawals/in-review").json() == []


@pytest.mark.parametrize("risk", [BY_AMOUNT], indirect=True)
def test_a_rejected_withdrawal_gives_the_money_back(api: httpx.Client) -> None:
    with _user(api, "rex") as me:
        dest = _destination(me, "0055544433")
        held = _withdraw(me, dest, 2_000, "w-1").json()
        rejected = api.post(f"/v1/admin/withdrawals/{held['withdrawal_id']}/reject", json=REVIEWER)
        assert rejected.status_code == 200, rejected.text
        assert (rejected.json()["state"], rejected.json()["review"]["note"]) == ("rejected", REVIEWER["note"])
        assert _wallet(me) == (FUNDS, 0)
        assert _at_provider(api, held["request_id"]) == 404
        assert me.get(f"/v1/me/withdrawals/{held['withdrawal_id']}").json()["state"] == "rejected"
        late = api.post(f"/v1/admin/withdrawals/{held['withdrawal_id']}/approve", json=REVIEWER)
        assert late.status_code == 409
        assert _at_provider(api, held["request_id"]) == 404
        bad = api.post(f"/v1/admin/withdrawals/{held['withdrawal_id']}/approve", json={"reviewer": ""})
        assert bad.status_code == 422
        unauthenticated = httpx.post(
            f"{api.base_url}/v1/admin/withdrawals/{held['withdrawal_id']}/approve", json=REVIEWER
        )
        assert unauthenticated.status_code == 401


def _at_once(api: httpx.Client, withdrawal_id: int, verbs: tuple[str, ...]) -> list[httpx.Response]:
    """The reviewers' decisions, sent together from one thread each."""
    answers: list[httpx.Response] = []
    start = threading.Barrier(len(verbs))

    def decide(verb: str) -> None:
        start.wait()
        answers.append(api.post(f"/v1/admin/withdrawals/{withdrawal_id}/{verb}", json=REVIEWER))

    threads = [threading.Thread(target=decide, args=(verb,)) for verb in verbs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize("risk", [BY_AMOUNT], indirect=True)
def test_two_reviewers_deciding_one_withdrawal_at_once_one_wins(api: httpx.Client) -> None:
    with _user(api, "tess") as me:
        dest = _destination(me, "0011223344")
        held = [_withdraw(me, dest, 1_000, f"w-{i}").json() for i in range(3)]
        for withdrawal in held:
            answers = _at_once(api, int(withdrawal["withdrawal_id"]), ("approve", "reject"))
            assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        states = [me.get(f"/v1/me/withdrawals/{w['withdrawal_id']}").json()["state"] for w in held]
        paid = sum(1_000 for state in states if state == "paid")
        assert set(states) <= {"paid", "rejected"}
        assert _wallet(me) == (FUNDS - paid, 0)
        for withdrawal, state in zip(held, states, strict=True):
            assert _at_provider(api, withdrawal["request_id"]) == (200 if state == "paid" else 404)


def test_the_default_strategy_refuses_a_stolen_accounts_withdrawal(api: httpx.Client, db: Database) -> None:
    with _user(api, "owen") as me, _merchant(api, "Corner Shop") as shop:
        paid = me.post(
            f"/v1/me/orders/{_order(shop, 'o-1', 300)}/confirm", headers={"Idempotency-Key": "c-1"}
        )
        assert paid.status_code == 200, paid.text  # the owner uses the account on the owner's phone
        own = _destination(me, "0012121212")
        assert _withdraw(me, own, 5_000, "w-1").json()["state"] == "paid"  # the owner, on the owner's phone
        me.headers["X-Device-Id"] = "the-thiefs-phone"
        stolen = _destination(me, "9988776655")  # the thief's account, added from the thief's phone
        refused = _withdraw(me, stolen, 90_000, "w-2")
        _problem(refused, "risk-denied")
        _problem(_withdraw(me, stolen, 60_000, "w-3"), "risk-denied")  # and again, for less
        assert _wallet(me) == (FUNDS - 5_300, 0)
    decisions = {
        d["kind"]: d for d in _decisions(db, "withdrawal")[-1:] + _decisions(db, "account_change")[-1:]
    }
    assert "withdrawal_after_change_new_device" in decisions["withdrawal"]["reasons"].split()
    assert decisions["account_change"]["decision"] == "review"  # a change from a new device: recorded


@pytest.mark.parametrize("risk", [BY_AMOUNT], indirect=True)
def test_reviewers_reject_a_held_withdrawal_from_the_cli(api: httpx.Client, cli: Cli) -> None:
    with _user(api, "cleo") as me:
        held = _withdraw(me, _destination(me, "0077665544"), 1_200, "w-1").json()
        listed = cli("withdrawals", "in-review")
        assert listed.returncode == 0, listed.stderr
        assert [json.loads(line)["withdrawal_id"] for line in listed.stdout.splitlines()] == [
            held["withdrawal_id"]
        ]
        rejected = cli(
            "withdrawals", "reject", str(held["withdrawal_id"]), "--reviewer", "rita", "--note", "no"
        )
        assert rejected.returncode == 0, rejected.stderr
        assert json.loads(rejected.stdout)["state"] == "rejected"
        assert _wallet(me) == (FUNDS, 0)
        again = cli("withdrawals", "reject", str(held["withdrawal_id"]), "--reviewer", "rita")
        assert again.returncode == 1
        assert again.stderr.startswith("error: ")
        assert len(again.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("risk", [BY_AMOUNT], indirect=True)
def test_a_denied_destination_change_stores_nothing(api: httpx.Client, db: Database) -> None:
    with _user(api, "dan") as me:
        first, second = _destination(me, "0010000001"), _destination(me, "0010000002")
        body = {
            "kind": "bank",
            "institution": "Test Bank",
            "holder_name": "D",
            "account_number": "0010000003",
        }
        refused = me.post("/v1/me/payout-destinations", json=body)
        _problem(refused, "risk-denied")
        listed = [d["destination_id"] for d in me.get("/v1/me/payout-destinations").json()]
        assert listed == [first, second]
        assert me.delete(f"/v1/me/payout-destinations/{second}").status_code == 204  # observed, not screened
    changes = _decisions(db, "account_change")
    assert [c["decision"] for c in changes] == ["allow", "allow", "deny"]
    assert changes[0]["activation"] != changes[1]["activation"]  # two accounts, two payee fingerprints
