"""Credit features from the database, point in time; the registry's four eyes; scores stored; the
deposit waiver decided by the score — on SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select

from earnloop.credit import privileges, registry, scoring
from earnloop.credit.errors import FourEyesError, ModelStateError, NoApprovedModelError
from earnloop.credit.features import FEATURE_NAMES
from earnloop.credit.features_db import feature_frame
from earnloop.credit.models import credit_scores
from earnloop.db.engine import Database
from earnloop.risk import lists
from earnloop.wallet.holds import service as holds
from tests.integration.credit.honest_model import trained
from tests.integration.credit.world import DEPOSIT, World, make_world


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


def test_features_are_point_in_time(world: World) -> None:
    as_of = world.now()
    with world.db.uow(write=False) as conn:
        before = feature_frame(conn, [world.good, world.risky], as_of)
    assert list(before.columns) == list(FEATURE_NAMES)
    good, risky = before.loc[world.good], before.loc[world.risky]
    assert good.account_age_days > 399
    assert risky.account_age_days < 4
    assert (risky.reversed_share, risky.open_debt) == (1.0, 1_000.0)
    assert (good.reversed_share, good.open_debt, good.earned_90d) == (0.0, 0.0, 500.0)
    assert good.balance_avg_90d > 0
    assert risky.days_past_due < 1
    # the future: more cashback, a clawback, the debt repaid, a block-list entry — none is seen as of then
    world.earn(world.risky, 2_000, "r-2")
    world.earn(world.good, 700, "g-2")
    world.do(lambda c: world.credit(c, world.good, 100, direction="debit"))
    world.do(
        lambda c: lists.add(c, lists.NewEntry("block", "user", str(world.good), "test"), added_by="test")
    )
    with world.db.uow(write=False) as conn:
        again = feature_frame(conn, [world.good, world.risky], as_of)
        later = feature_frame(conn, [world.good, world.risky], world.now())
    pd.testing.assert_frame_equal(before, again)
    assert later.loc[world.risky].open_debt == 0.0  # the new cashback repaid it
    assert later.loc[world.good].earned_90d == 1_200.0


def test_four_eyes_and_the_approved_champion_scores(world: World) -> None:
    model, rows = trained()
    window = registry.Window(1, world.now())
    with pytest.raises(NoApprovedModelError):
        world.do(lambda c: scoring.score_user(c, world.good, now_ns=world.now()))
    info = world.do(lambda c: registry.register(c, model, window, {"auc": 0.8}, "ana", training=rows))
    with pytest.raises(FourEyesError):
        world.do(lambda c: registry.approve(c, info.version, "ana"))
    approved = world.do(lambda c: registry.approve(c, info.version, "ben"))
    assert (approved.state, approved.approved_by) == ("approved", "ben")
    with pytest.raises(ModelStateError):
        world.do(lambda c: registry.approve(c, info.version, "cy"))
    second = world.do(lambda c: registry.register(c, model, window, {"auc": 0.81}, "cy", training=rows))
    world.do(lambda c: registry.approve(c, second.version, "ana"))
    states = {m.version: m.state for m in world.do(registry.list_models)}
    assert states == {info.version: "retired", second.version: "approved"}
    now = world.now()
    good = world.do(lambda c: scoring.score_user(c, world.good, now_ns=now))
    risky = world.do(lambda c: scoring.score_user(c, world.risky, now_ns=now))
    assert good.model_version == second.version
    assert good.score > risky.score
    top = {r.text for r in risky.top_reasons(3)}
    assert {"much of your cashback was reversed", "you have an unpaid balance"} <= top
    assert world.do(lambda c: scoring.rescore_all(c, now_ns=world.now())) == 2
    count = world.do(lambda c: c.execute(select(func.count()).select_from(credit_scores)).scalar_one())
    assert count == 4  # append-only: two on demand, two in the batch


def test_the_deposit_decision_follows_the_score(world: World) -> None:
    world.approved_model()
    now = world.now()
    good = world.do(
        lambda c: privileges.deposit_waiver(c, user_id=world.good, min_credit_score=600, now_ns=now)
    )
    risky = world.do(
        lambda c: privileges.deposit_waiver(c, user_id=world.risky, min_credit_score=600, now_ns=now)
    )
    assert (good.waived, good.rule) == (True, "min_credit_score"), good
    assert (risky.waived, risky.rule) == (False, "below_threshold"), risky
    assert "much of your cashback was reversed" in risky.reasons
    unset = world.do(
        lambda c: privileges.deposit_waiver(c, user_id=world.risky, min_credit_score=None, now_ns=now)
    )
    assert not unset.waived


def test_a_band_with_reduced_deposits_halves_the_hold(world: World) -> None:
    world.approved_model()
    half = privileges.Privilege(350, "everyone", "TWD", False, 50, None, None, 0)
    world.do(lambda c: privileges.set_band(c, half, now_ns=world.now()))
    asked = world.do(
        lambda c: holds.request_hold(
            c,
            world.ledger,
            idempotency_key="half",
            merchant_id=world.merchant.id,
            product="sedan",
            user_id=world.risky,
            currency_code="TWD",
            ref="half",
            waiver=privileges.deposit_waiver,
        )
    )
    assert (asked["state"], asked["amount"]) == ("requested", DEPOSIT // 2)
    assert asked["credit_decision"]["reduced_pct"] == 50
    assert [b.band for b in world.do(privileges.bands)] == ["everyone"]
