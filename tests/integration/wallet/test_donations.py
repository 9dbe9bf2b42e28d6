"""Donations on both databases: campaign progress, the public statement reconciling to the charity's
ledger account, and the errors (nothing changes when one is raised); plus the same over HTTP."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection

from earnloop.auth.service import create_partner, create_user
from earnloop.db.engine import Database
from earnloop.idempotency.service import IdempotencyConflictError
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.wallet import service
from earnloop.wallet.donations import service as donations
from earnloop.wallet.errors import (
    InsufficientFundsError,
    InvalidAmountError,
    NotFoundError,
    StateConflictError,
)
from tests.integration.wallet_support import fund_wallet

DAY_NS = 86_400 * 1_000_000_000


def _user(conn: Connection, ledger: LedgerService, handle: str, amount: int, cur: str = "TWD") -> int:
    user_id = create_user(conn, handle).id
    service.open_wallet(conn, ledger, user_id, cur)
    if amount:
        fund_wallet(conn, ledger, user_id, amount, cur)
    return user_id


def _campaign(conn: Connection, ledger: LedgerService, charity: int, name: str, **window: int) -> int:
    now = ledger.clock.now_ns()
    created = donations.create_campaign(
        conn,
        ledger,
        charity_id=charity,
        name=name,
        currency_code="TWD",
        goal=10_000,
        starts_at_ns=window.get("start", now - DAY_NS),
        ends_at_ns=window.get("end", now + DAY_NS),
    )
    return int(created["campaign_id"])


def test_progress_and_statement_reconcile_to_the_ledger(db: Database, ledger: LedgerService) -> None:
    with db.uow() as conn:
        charity = create_partner(conn, "Ocean Rescue", "charity", "TWD").id
        other = create_partner(conn, "Forest Fund", "charity", "TWD").id
        boats, nets = _campaign(conn, ledger, charity, "Boats"), _campaign(conn, ledger, charity, "Nets")
        trees = _campaign(conn, ledger, other, "Trees")
        alice, bob = _user(conn, ledger, "alice", 5_000), _user(conn, ledger, "bob", 5_000)
        gifts = [
            (alice, boats, 1),
            (bob, boats, 2_500),
            (alice, nets, 999),
            (bob, trees, 70),
            (alice, boats, 30),
        ]
        answers = [
            donations.donate(conn, ledger, idempotency_key=f"g-{i}", user_id=u, campaign_id=c, amount=a)
            for i, (u, c, a) in enumerate(gifts)
        ]
        replay = donations.donate(
            conn, ledger, idempotency_key="g-0", user_id=alice, campaign_id=boats, amount=1
        )
        progress = donations.campaign_progress(conn, ledger, boats)
        full = donations.statement(conn, ledger, charity_id=charity, currency_code="TWD")
        page = donations.statement(conn, ledger, charity_id=charity, currency_code="TWD", limit=2)
        rest = donations.statement(
            conn,
            ledger,
            charity_id=charity,
            currency_code="TWD",
            before_id=page["donations"][-1]["donation_id"],
        )
        forest = donations.statement(conn, ledger, charity_id=other, currency_code="TWD")
        alice_view = service.view(conn, ledger, alice, "TWD")
    assert replay == answers[0]
    assert (progress["raised"], progress["donations_count"], progress["goal"]) == (2_531, 3, 10_000)
    assert progress["active"] is True
    assert (full["donations_total"], full["ledger_balance"], full["reconciled"]) == (3_530, 3_530, True)
    assert full["donations_count"] == 4
    assert sum(d["amount"] for d in full["donations"]) == full["ledger_balance"]
    assert {d["donor"] for d in full["donations"]} == {"a***e", "b***b"}
    assert [d["amount"] for d in page["donations"] + rest["donations"]] == [30, 999, 2_500, 1]
    assert (forest["ledger_balance"], forest["reconciled"]) == (70, True)
    assert alice_view.available == 5_000 - 1 - 999 - 30


def test_donation_errors_change_nothing(db: Database, ledger: LedgerService, clock: ManualClock) -> None:
    with db.uow() as conn:
        charity = create_partner(conn, "Shelter", "charity", "TWD").id
        merchant = create_partner(conn, "Shop", "merchant", "TWD").id
        open_ = _campaign(conn, ledger, charity, "Open")
        future = _campaign(
            conn, ledger, charity, "Later", start=clock.now_ns() + DAY_NS, end=clock.now_ns() + 2 * DAY_NS
        )
        user = _user(conn, ledger, "dora", 100)
        usd_only = _user(conn, ledger, "ursula", 100, "USD")
        donations.donate(conn, ledger, idempotency_key="k-1", user_id=user, campaign_id=open_, amount=10)

    def snapshot() -> tuple[Any, ...]:
        with db.uow(write=False) as conn:
            s = donations.statement(conn, ledger, charity_id=charity, currency_code="TWD")
            p = donations.campaign_progress(conn, ledger, open_)
            return (
                s["donations_total"],
                s["ledger_balance"],
                p["raised"],
                service.view(conn, ledger, user, "TWD"),
            )

    before = snapshot()
    attempts: list[tuple[type[Exception], int, int, int, str]] = [
        (InvalidAmountError, user, open_, 0, "k-2"),
        (InsufficientFundsError, user, open_, 91, "k-3"),
        (NotFoundError, user, 999, 5, "k-4"),
        (StateConflictError, user, future, 5, "k-5"),
        (NotFoundError, usd_only, open_, 5, "k-6"),  # no TWD wallet
        (IdempotencyConflictError, user, open_, 11, "k-1"),
    ]
    for error, who, campaign, amount, key in attempts:
        with pytest.raises(error), db.uow() as conn:
            donations.donate(
                conn, ledger, idempotency_key=key, user_id=who, campaign_id=campaign, amount=amount
            )
        assert snapshot() == before, error
    clock.advance(seconds=2 * 86_400)  # the open campaign has ended
    with pytest.raises(StateConflictError), db.uow() as conn:
        donations.donate(conn, ledger, idempotency_key="k-7", user_id=user, campaign_id=open_, amount=5)
    with pytest.raises(NotFoundError), db.uow() as conn:
        _campaign(conn, ledger, merchant, "Not a charity")
    with pytest.raises(InvalidAmountError), db.uow() as conn:
        _campaign(conn, ledger, charity, "Backwards", start=10, end=5)


def test_http_donate_progress_and_public_statement(api: httpx.Client) -> None:
    charity = api.post(
        "/v1/partners", json={"name": "Kids Read", "kind": "charity", "settlement_currency": "TWD"}
    )
    charity_id = charity.json()["partner_id"]
    campaign = api.post(
        f"/v1/admin/charities/{charity_id}/campaigns",
        json={
            "name": "Books",
            "currency": "TWD",
            "goal": 500,
            "starts_at": "2020-01-01T00:00:00Z",  # the test clock is ManualClock time
            "ends_at": "2100-01-01T00:00:00Z",
        },
    )
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["campaign_id"]
    created = api.post("/v1/users", json={"handle": "gina"})
    token = created.json()["token"]
    user_id = created.json()["user_id"]
    with closing(
        httpx.Client(base_url=str(api.base_url), headers={"Authorization": f"Bearer {token}"})
    ) as me:
        me.post("/v1/me/wallets/TWD")
        api.post(
            f"/v1/admin/users/{user_id}/wallets/TWD/adjustments",
            json={"amount": 300, "direction": "credit", "reason": "t"},
            headers={"Idempotency-Key": "fund"},
        )
        body = {"campaign_id": campaign_id, "amount": 250}
        gift = me.post("/v1/me/donations", json=body, headers={"Idempotency-Key": "gift-1"})
        assert gift.status_code == 201, gift.text
        assert (
            me.post("/v1/me/donations", json=body, headers={"Idempotency-Key": "gift-1"}).json()
            == gift.json()
        )
        errors = [
            (me.post("/v1/me/donations", json=body), 422, "validation-error"),
            (
                me.post("/v1/me/donations", json={**body, "amount": 0}, headers={"Idempotency-Key": "g2"}),
                422,
                "validation-error",
            ),
            (
                me.post("/v1/me/donations", json={**body, "amount": 51}, headers={"Idempotency-Key": "g3"}),
                422,
                "insufficient-funds",
            ),
            (
                me.post(
                    "/v1/me/donations", json={**body, "campaign_id": 99}, headers={"Idempotency-Key": "g4"}
                ),
                404,
                "not-found",
            ),
            (api.get("/v1/charities/99/statement", params={"currency": "TWD"}), 404, "not-found"),
            (api.post(f"/v1/admin/charities/{charity_id}/campaigns", json={}), 422, "validation-error"),
        ]
        for response, status, slug in errors:
            assert response.status_code == status, response.text
            assert response.json()["type"].endswith("/" + slug)
        wallet = me.get("/v1/me/wallets/TWD").json()
    public = httpx.Client(base_url=str(api.base_url))
    with public:
        progress = public.get(f"/v1/campaigns/{campaign_id}").json()
        listed = public.get(f"/v1/charities/{charity_id}/campaigns").json()
        statement = public.get(f"/v1/charities/{charity_id}/statement", params={"currency": "TWD"}).json()
        unauth = public.post("/v1/me/donations", json=body, headers={"Idempotency-Key": "g5"})
    assert wallet["available"] == 50
    assert (progress["raised"], progress["donations_count"], progress["percent_of_goal"]) == (250, 1, 50.0)
    assert [c["campaign_id"] for c in listed] == [campaign_id]
    assert (statement["donations_total"], statement["ledger_balance"], statement["reconciled"]) == (
        250,
        250,
        True,
    )
    assert statement["donations"][0]["donor"] == "g***a"
    assert "gina" not in str(statement)
    assert unauth.status_code == 401
