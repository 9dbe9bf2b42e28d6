"""The risk engine in the game earn path, over real HTTP on SQLite and PostgreSQL: a denied postback moves
no money and its provider is told to stop; a reviewed reward stays pending past its release date until a
reviewer approves it; every decision is stored once per event with its reasons and point-in-time
activation; a rule that errs fails safe to review without failing the postback."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.risk import reviews
from earnloop.risk.default_strategy import VERSION
from earnloop.risk.engine import RiskEngine
from earnloop.risk.events import RiskEvent
from earnloop.risk.models import risk_decisions, risk_outcomes, risk_reviews
from earnloop.risk.rules import Rule, Strategy
from earnloop.risk.screening import screen
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.cashback.models import cashback_entries
from earnloop.wallet.cashback.reviews import decide_review
from tests.conftest import Cli
from tests.integration.tracking.support import World, click, count, event, money, postback

REVIEW_LEVEL_10 = Strategy(
    "review-lv10", (Rule("second_milestone", "milestone_position == 2", "review", 10),)
)
ERRS_ON_MILESTONES = Strategy(
    "errs-1",
    (
        Rule("divides", 'kind == "milestone" && 100 / (amount - amount) > 1', "block", 10),
        Rule("never", "amount < 0", "block", 10),
    ),
)


def _decision(db: Database, txn: str) -> dict[str, object]:
    with db.uow(write=False) as conn:
        row = conn.execute(
            select(risk_decisions).where(risk_decisions.c.event_ref == f"game:earnloop:{txn}")
        ).one()
    return dict(row._mapping)


def test_a_denied_postback_moves_no_money_and_tells_the_provider_to_stop(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    click_id = click(api, world)
    clock.advance(seconds=5)  # a milestone five seconds after its click: click injection
    first = postback(api, clock, event("txn-1", click_id, "lv5"))
    assert first.status_code == 403, first.text
    assert first.json()["reason_code"] == "risk_denied"
    assert "click_to_milestone_too_fast" in first.json()["detail"]
    again = postback(api, clock, event("txn-1", click_id, "lv5"))  # the provider's retry
    assert (again.status_code, again.content) == (403, first.content)
    assert money(db, ledger, world.user_id) == (0, 0, 0)
    decision = _decision(db, "txn-1")
    assert (decision["decision"], decision["strategy_version"]) == ("deny", VERSION)
    assert "click_to_milestone_too_fast" in str(decision["reasons"]).split()
    assert json.loads(str(decision["activation"]))["click_to_event_s"] == 5


def test_an_honest_postback_is_allowed_and_its_decision_stored_once(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock, risk: RiskEngine
) -> None:
    click_id = click(api, world)
    clock.advance(seconds=1_800)
    assert postback(api, clock, event("txn-1", click_id, "lv5")).status_code == 200
    decision = _decision(db, "txn-1")
    assert (decision["decision"], decision["reasons"], decision["kind"]) == ("allow", "", "milestone")
    activation = json.loads(str(decision["activation"]))
    assert activation["click_to_event_s"] == 1_800
    assert activation["key_user"] == str(world.user_id)
    assert (decision["amount"], decision["currency"]) == (100, "TWD")
    # the same event screened again (a retry after a crash): the first decision stands
    retried = RiskEvent("milestone", "game:earnloop:txn-1", clock.now_ns(), attrs={"emulator": True})
    with db.uow() as conn:
        stored = screen(conn, risk, retried)
        assert count(conn, risk_decisions) == 1
    assert (stored.outcome, stored.first) == ("allow", False)
    assert money(db, ledger, world.user_id)[1] == 200  # 100 and its 2x campaign bonus, pending


@pytest.mark.parametrize("risk", [REVIEW_LEVEL_10], indirect=True)
def test_a_reviewed_reward_stays_pending_past_its_release_until_approved(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    click_id = click(api, world)
    clock.advance(seconds=600)
    assert postback(api, clock, event("txn-1", click_id, "lv5")).status_code == 200
    clock.advance(seconds=600)
    assert postback(api, clock, event("txn-2", click_id, "lv10")).status_code == 200  # held, not refused
    clock.advance(seconds=30 * 86_400)  # the game's lock period (0 days) is long over
    with db.uow() as conn:
        assert cashback.confirm_due(conn, ledger, clock.now_ns()) == 2  # lv5 and its bonus only
        held = conn.execute(select(cashback_entries.c.ref, cashback_entries.c.status)).all()
        (review,) = reviews.list_reviews(conn)
    assert sorted(held) == [
        ("earnloop:txn-1", "confirmed"),
        (f"earnloop:txn-1:bonus:{world.campaign_id}", "confirmed"),
        ("earnloop:txn-2", "pending"),
        (f"earnloop:txn-2:bonus:{world.campaign_id}", "pending"),
    ]
    assert money(db, ledger, world.user_id)[1:] == (600, 200)
    assert (review["reward_ref"], review["reasons"]) == ("earnloop:txn-2", ["second_milestone"])
    with db.uow() as conn:
        reviews.decide(
            conn, review["review_id"], approve=True, reviewer="ana", note="ok", now_ns=clock.now_ns()
        )
        assert cashback.confirm_due(conn, ledger, clock.now_ns()) == 2
    assert money(db, ledger, world.user_id)[1:] == (0, 800)
    with db.uow() as conn, pytest.raises(reviews.ReviewDecidedError):
        reviews.decide(
            conn, review["review_id"], approve=False, reviewer="bo", note="", now_ns=clock.now_ns()
        )


@pytest.mark.parametrize("risk", [ERRS_ON_MILESTONES], indirect=True)
def test_a_rule_that_errs_fails_safe_to_review_and_the_postback_succeeds(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock, risk: RiskEngine
) -> None:
    click_id = click(api, world)
    clock.advance(seconds=600)
    assert postback(api, clock, event("txn-1", click_id, "lv5")).status_code == 200
    decision = _decision(db, "txn-1")
    assert (decision["decision"], decision["reasons"]) == ("review", "rule_error:divides")
    assert risk.strategies.live().runtime_errors == 1
    assert money(db, ledger, world.user_id)[1] == 200  # credited pending, on hold
    with db.uow(write=False) as conn:
        assert count(conn, risk_reviews, risk_reviews.c.status == "open") == 1


@pytest.mark.parametrize("risk", [REVIEW_LEVEL_10], indirect=True)
def test_a_rejected_review_voids_the_held_cashback(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    click_id = click(api, world)
    clock.advance(seconds=600)
    assert postback(api, clock, event("txn-1", click_id, "lv5")).status_code == 200
    assert postback(api, clock, event("txn-2", click_id, "lv10")).status_code == 200
    with db.uow() as conn:
        (review,) = reviews.list_reviews(conn)
        done = decide_review(conn, ledger, review["review_id"], approve=False, reviewer="ana", note="farm")
    assert done["voided"] == ["earnloop:txn-2", f"earnloop:txn-2:bonus:{world.campaign_id}"]
    assert (done["status"], done["reviewer"], done["note"]) == ("rejected", "ana", "farm")
    with db.uow(write=False) as conn:  # the rejection labels the event for backtests
        labels = conn.execute(
            select(risk_outcomes.c.kind).where(risk_outcomes.c.event_ref == review["event_ref"])
        ).scalars()
        assert sorted(labels) == ["confirmed_fraud", "reversed"]
    clock.advance(seconds=86_400)
    with db.uow() as conn:
        assert cashback.confirm_due(conn, ledger, clock.now_ns()) == 2  # lv5 and its bonus
    assert money(db, ledger, world.user_id)[1:] == (0, 200)


@pytest.mark.parametrize("risk", [REVIEW_LEVEL_10], indirect=True)
def test_operators_list_and_decide_held_rewards_from_the_cli(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock, cli: Cli
) -> None:
    click_id = click(api, world)
    clock.advance(seconds=600)
    assert postback(api, clock, event("txn-1", click_id, "lv5")).status_code == 200
    assert postback(api, clock, event("txn-2", click_id, "lv10")).status_code == 200
    listed = cli("cashback", "reviews")
    assert listed.returncode == 0, listed.stderr
    (review,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (review["reward_ref"], review["status"]) == ("earnloop:txn-2", "open")
    review_id = str(review["review_id"])
    rejected = cli("cashback", "review", review_id, "--reject", "--reviewer", "ana", "--note", "farm")
    assert rejected.returncode == 0, rejected.stderr
    assert json.loads(rejected.stdout)["voided"] == [
        "earnloop:txn-2",
        f"earnloop:txn-2:bonus:{world.campaign_id}",
    ]
    again = cli("cashback", "review", review_id, "--approve", "--reviewer", "bo")
    assert again.returncode == 1
    assert again.stderr.strip().count("\n") == 0
    assert "rejected already" in again.stderr
    assert cli("cashback", "reviews", "--status", "nope").returncode == 1
    assert money(db, ledger, world.user_id)[1:] == (200, 0)  # lv5 and its bonus pending, lv10 voided
