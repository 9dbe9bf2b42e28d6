"""Acceptance (issue 17, item 5): a deposit-free rental end to end over HTTP, on both databases. The
high-score driver's hold is waived (no money held) and the low-score driver's is taken once the driver
approves it; each hold shows the decision with the score and its reasons, and ``GET /v1/me/credit``
explains the score and the privileges it unlocks. The model is approved over HTTP by a second operator.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from earnloop.auth.operators import create_operator
from earnloop.credit import registry
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.wallet.holds import service as holds
from tests.integration.credit.honest_model import trained
from tests.integration.credit.world import DEPOSIT, FUNDS, World, manual_clock


@pytest.fixture
def clock() -> ManualClock:
    return manual_clock()  # the server's ledger follows the wall clock, as the rows do


@pytest.fixture
def world(db: Database, ledger: LedgerService, clock: ManualClock) -> World:
    return World(db, ledger, clock)


@contextmanager
def as_(api: httpx.Client, headers: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.base_url, headers=headers, timeout=30) as http:
        yield http


def _wallet(http: httpx.Client) -> dict[str, Any]:
    return http.get("/v1/me/wallets/TWD").json()  # type: ignore[no-any-return]


def test_high_score_rents_deposit_free_low_score_approves_the_deposit(
    api: httpx.Client, world: World
) -> None:
    model, rows = trained()
    info = world.do(
        lambda c: registry.register(
            c, model, registry.Window(1, world.now()), {"auc": 0.8}, "ana", training=rows
        )
    )
    ana = world.do(lambda c: create_operator(c, "ana", ["risk"]))
    ben = world.do(lambda c: create_operator(c, "ben", ["risk"]))
    world.do(lambda c: world.credit(c, world.risky, 5_000))
    world.do(
        lambda c: holds.set_policy(
            c,
            product="sedan",
            currency_code="TWD",
            partner_id=world.merchant.id,
            amount=DEPOSIT,
            min_credit_score=600,
        )
    )
    path = f"/v1/admin/credit/models/{info.version}/approve"
    assert api.post(path).status_code == 403  # the admin token names nobody
    with as_(api, {"Authorization": f"Bearer {ana.secret}"}) as author:
        refused = author.post(path)
        assert (refused.status_code, refused.json()["type"].rsplit("/", 1)[-1]) == (409, "credit-four-eyes")
    with as_(api, {"Authorization": f"Bearer {ben.secret}"}) as approver:
        approved = approver.post(path).json()
    assert (approved["state"], approved["approved_by"]) == ("approved", "ben")
    with (
        as_(api, {"X-Api-Key": world.merchant.secret}) as cars,
        as_(api, {"Authorization": f"Bearer {world.users['good'].secret}"}) as good,
        as_(api, {"Authorization": f"Bearer {world.users['risky'].secret}"}) as risky,
    ):
        ask = {"product": "sedan", "currency": "TWD", "expires_in_s": 3_600}
        free = cars.post(
            "/v1/partner/holds",
            json={**ask, "user_id": world.good, "ref": "r-good"},
            headers={"Idempotency-Key": "h1"},
        )
        taken = cars.post(
            "/v1/partner/holds",
            json={**ask, "user_id": world.risky, "ref": "r-risky"},
            headers={"Idempotency-Key": "h2"},
        )
        assert (free.status_code, taken.status_code) == (201, 201), (free.text, taken.text)
        free_hold, taken_hold = free.json(), taken.json()
        # the high score: waived, nothing held, the decision and its reasons on the hold
        assert free_hold["state"] == "waived"
        decision = free_hold["credit_decision"]
        assert (decision["waived"], decision["rule"]) == (True, "min_credit_score")
        assert decision["score"] >= 600
        assert decision["reasons"]
        assert _wallet(good)["held"] == 0
        assert (
            good.post(
                f"/v1/me/holds/{free_hold['hold_id']}/approve", headers={"Idempotency-Key": "a0"}
            ).status_code
            == 409
        )
        capture = cars.post(
            f"/v1/partner/holds/{free_hold['hold_id']}/capture",
            json={"amount": 100, "reason": "scratch"},
            headers={"Idempotency-Key": "c1"},
        )
        assert capture.status_code == 409  # nothing was held
        # the low score: a request, held once the driver approves it, with the reasons it was not waived
        assert taken_hold["state"] == "requested"
        refusal = taken_hold["credit_decision"]
        assert (refusal["waived"], refusal["rule"]) == (False, "below_threshold")
        assert refusal["score"] < 600
        assert "much of your cashback was reversed" in refusal["reasons"]
        assert _wallet(risky)["held"] == 0
        held = risky.post(f"/v1/me/holds/{taken_hold['hold_id']}/approve", headers={"Idempotency-Key": "a1"})
        assert (held.status_code, held.json()["state"]) == (200, "held")
        assert _wallet(risky)["held"] == DEPOSIT
        mine = good.get("/v1/me/holds").json()
        assert [(h["state"], h["credit_decision"]["rule"]) for h in mine] == [("waived", "min_credit_score")]
        # the user's own view of the score
        me = good.get("/v1/me/credit").json()
        assert me["score"] == decision["score"]
        assert set(me["subscores"]) == {"identity", "behaviour", "payment_history", "connections", "capacity"}
        assert me["reasons"]
        assert all(r["text"] for r in me["reasons"])
        assert me["privileges"]["band"]
        assert isinstance(me["privileges"]["unlocked"], list)
        low = risky.get("/v1/me/credit").json()
        assert low["score"] < me["score"]
        assert _wallet(good)["available"] == FUNDS + 500
    assert api.post("/v1/admin/credit/rescore").json() == {"scored": 2}
    assert [m["state"] for m in api.get("/v1/admin/credit/models").json()] == ["approved"]
    drift = api.get("/v1/admin/credit/monitor").json()
    assert drift[0]["name"] == "score"
    assert {d["name"] for d in drift} >= {"score", "reversed_share"}


def test_the_app_shows_the_score_and_each_holds_decision(site: str, world: World) -> None:
    from earnloop.auth import sessions
    from earnloop.credit.privileges import deposit_waiver
    from earnloop.web.session import SESSION_COOKIE

    version = world.approved_model()
    world.do(lambda c: world.credit(c, world.risky, 5_000))
    world.do(
        lambda c: holds.set_policy(
            c,
            product="sedan",
            currency_code="TWD",
            partner_id=world.merchant.id,
            amount=DEPOSIT,
            min_credit_score=600,
        )
    )
    found = {}
    for who, user in (("good", world.good), ("risky", world.risky)):
        found[who] = world.do(
            lambda c, user=user, who=who: holds.request_hold(
                c,
                world.ledger,
                idempotency_key=f"app-{who}",
                merchant_id=world.merchant.id,
                product="sedan",
                user_id=user,
                currency_code="TWD",
                ref=f"app-{who}",
                waiver=deposit_waiver,
            )
        )
    free, asked = found["good"]["credit_decision"], found["risky"]["credit_decision"]
    assert (free["model_version"], free["waived"], asked["waived"]) == (version, True, False)
    pages = {}
    for who, user in (("good", world.good), ("risky", world.risky)):
        token = world.do(lambda c, user=user: sessions.start_session(c, user))
        with httpx.Client(base_url=site, timeout=30, cookies={SESSION_COOKIE: token}) as http:
            pages[who] = (http.get("/app/credit").text, http.get("/app/wallet/holds").text)
    credit_page, holds_page = pages["good"]
    assert f'data-score="{free["score"]}"' in credit_page
    assert "What shapes your score" in credit_page
    assert "Payment history" in credit_page
    assert "deposit-free rentals" in credit_page or "a credit line" in credit_page
    assert "No deposit needed" in holds_page
    assert (
        f"No deposit: your credit score {free['score']} reaches this deposit&#39;s threshold." in holds_page
    )
    credit_page, holds_page = pages["risky"]
    assert f'data-score="{asked["score"]}"' in credit_page
    assert "much of your cashback was reversed" in credit_page
    assert f"A deposit is needed: your credit score is {asked['score']}." in holds_page
    assert "much of your cashback was reversed" in holds_page
    assert "Approve the deposit" in holds_page
