"""The champion and the challenger on a small simulated population: both rank users far better than
chance on the held-out time split, the scorecard's points go the way the known generating process says,
every score and sub-score is in 350–950 with reasons worded from the catalogue, and the reasons are
faithful — moving a user's top negative reason into its best bin raises their score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from earnloop.credit.challenger import Challenger
from earnloop.credit.evaluation import metrics
from earnloop.credit.features import BY_NAME, FEATURE_NAMES
from earnloop.credit.population import COEFFICIENTS, TARGET, DataError, split_target
from earnloop.credit.scorecard import Scorecard
from earnloop.credit.training import held_out
from earnloop.credit.types import DIMENSIONS, SCORE_MAX, SCORE_MIN


@pytest.fixture(scope="module")
def split() -> tuple[pd.DataFrame, pd.DataFrame]:
    return held_out(4_000, 3)


@pytest.fixture(scope="module")
def champion(split: tuple[pd.DataFrame, pd.DataFrame]) -> Scorecard:
    train, _ = split
    return Scorecard().fit(train[list(FEATURE_NAMES)], train[TARGET].to_numpy())


@pytest.mark.parametrize("model", ["scorecard", "lightgbm"])
def test_both_models_rank_users_far_better_than_chance(
    model: str, split: tuple[pd.DataFrame, pd.DataFrame], champion: Scorecard
) -> None:
    train, test = split
    fitted = (
        champion
        if model == "scorecard"
        else Challenger().fit(train[list(FEATURE_NAMES)], train[TARGET].to_numpy())
    )
    result = metrics(test[TARGET].to_numpy(), fitted.probability_bad(test[list(FEATURE_NAMES)]))
    assert result.auc > 0.75
    assert result.ks > 0.3
    assert result.gini == pytest.approx(2 * result.auc - 1)


def test_the_scorecard_learns_the_generating_direction(champion: Scorecard) -> None:
    # every feature of the label's logistic link: its best bin lies at the favourable end of the catalogue
    tables = champion.bin_tables()
    for name in COEFFICIENTS:
        points = tables[name]["Points"].to_numpy()
        assert points.max() - points.min() > 1, name
        ordered = points if BY_NAME[name].favourable == 1 else points[::-1]
        assert np.all(np.diff(ordered) >= -1e-9), name  # monotonic towards the favourable end


def test_scores_subscores_and_reasons_are_in_range_and_worded(
    champion: Scorecard, split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    _, test = split
    scored = champion.score(test[list(FEATURE_NAMES)].iloc[:200])
    assert all(SCORE_MIN <= s.score <= SCORE_MAX for s in scored)
    assert len({s.score for s in scored}) > 20
    for s in scored:
        assert set(s.subscores) == set(DIMENSIONS)
        assert all(SCORE_MIN <= v <= SCORE_MAX for v in s.subscores.values())
        negatives = [r.points for r in s.reasons if r.points < 0]
        assert negatives == sorted(negatives)
        for reason in s.reasons:
            feature = BY_NAME[reason.feature]
            assert reason.text == (feature.bad if reason.points < 0 else feature.good)
            assert reason.dimension == feature.dimension


def test_moving_the_top_negative_reason_to_its_best_bin_raises_the_score(
    champion: Scorecard, split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    _, test = split
    rows = test[list(FEATURE_NAMES)].sample(300, random_state=11).reset_index(drop=True)
    checked = 0
    for index, before in enumerate(champion.score(rows)):
        top = next((r for r in before.reasons if r.points < 0), None)
        if top is None or before.score == SCORE_MAX:
            continue
        changed = rows.iloc[[index]].copy()
        changed[top.feature] = champion.best_values[top.feature]
        after = champion.score(changed)[0]
        assert after.score > before.score, (top, before.score, after.score)
        assert after.score - before.score == pytest.approx(-top.points, abs=1.0)
        checked += 1
    assert checked > 100


def test_the_challenger_explains_with_the_catalogue(split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, test = split
    challenger = Challenger(n_estimators=60).fit(train[list(FEATURE_NAMES)], train[TARGET].to_numpy())
    scored = challenger.score(test[list(FEATURE_NAMES)].iloc[:50])
    raw = challenger.raw_scores(test.iloc[:50])
    assert [s.score for s in scored] == list(np.clip(np.rint(raw), SCORE_MIN, SCORE_MAX).astype(int))
    assert any(r.points < 0 and r.text == BY_NAME[r.feature].bad for s in scored for r in s.reasons)


def test_a_public_data_set_with_text_columns_trains_both_models() -> None:
    rng = np.random.default_rng(5)
    n = 1_500
    purpose = rng.choice(["car", "tv", "education", "business"], size=n)
    income = rng.lognormal(8, 0.5, size=n)
    logit = -1.0 + 1.2 * (purpose == "business") - 0.6 * (income > 4_000)
    frame = pd.DataFrame(
        {
            "purpose": purpose,
            "income": income,
            "y": np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "bad", "good"),
        }
    )
    features, y = split_target(frame, "y")
    assert y.mean() == pytest.approx((frame["y"] == "bad").mean())
    for model in (Scorecard(), Challenger(n_estimators=50)):
        fitted = model.fit(features.iloc[:1_000], y[:1_000])
        assert metrics(y[1_000:], fitted.probability_bad(features.iloc[1_000:])).auc > 0.6
    assert (
        Scorecard()
        .fit(features, y)
        .score(features.iloc[:3])[0]
        .reasons[0]
        .text.startswith(("purpose", "income"))
    )


def test_a_target_with_more_than_two_values_is_refused() -> None:
    frame = pd.DataFrame({"x": range(60), "y": [0, 1, 2] * 20})
    with pytest.raises(DataError, match="exactly 2 values"):
        split_target(frame, "y")


def test_german_credit_trains_with_its_text_columns() -> None:
    from earnloop.credit.baselines import germancredit

    features, y = germancredit()
    assert features.shape == (1_000, 20)
    assert y.mean() == pytest.approx(0.3)
    model = Scorecard().fit(features.iloc[:700], y[:700])
    assert "status_of_existing_checking_account" in model.categorical
    assert metrics(y[700:], model.probability_bad(features.iloc[700:])).auc > 0.7
    reasons = [r for s in model.score(features.iloc[700:720]) for r in s.reasons]
    assert any(r.points < 0 and r.text.endswith("lowered your score") for r in reasons)
