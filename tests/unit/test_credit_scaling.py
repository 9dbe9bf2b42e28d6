"""The score scale: doubling the odds of being good adds PDO points, the base odds score the base score,
every score stays in 350–950 however extreme the probability, and a higher probability of going bad
never scores higher."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from earnloop.credit.scaling import (
    BASE_ODDS,
    BASE_SCORE,
    PDO,
    probability_from_score,
    raw_score_from_log_odds_bad,
    score_from_probability,
)
from earnloop.credit.types import SCORE_MAX, SCORE_MIN


def _p_for_good_odds(odds: float) -> float:
    return 1.0 / (1.0 + odds)


def test_the_base_odds_score_the_base_score() -> None:
    assert score_from_probability(np.array([_p_for_good_odds(BASE_ODDS)]))[0] == BASE_SCORE


@given(st.floats(min_value=0.5, max_value=500.0))
def test_doubling_the_odds_adds_pdo_points(odds: float) -> None:
    once = raw_score_from_log_odds_bad(np.array([np.log(1 / odds)]))[0]
    doubled = raw_score_from_log_odds_bad(np.array([np.log(1 / (2 * odds))]))[0]
    assert abs((doubled - once) - PDO) < 1e-9


def test_scores_are_clipped_to_the_range() -> None:
    scores = score_from_probability(np.array([0.0, 1e-9, 0.999999, 1.0]))
    assert list(scores) == [SCORE_MAX, SCORE_MAX, SCORE_MIN, SCORE_MIN]


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=2, max_size=50))
def test_a_higher_probability_of_going_bad_never_scores_higher(probabilities: list[float]) -> None:
    p = np.sort(np.array(probabilities))
    scores = score_from_probability(p)
    assert np.all(np.diff(scores) <= 0)
    assert scores.min() >= SCORE_MIN
    assert scores.max() <= SCORE_MAX


@given(st.floats(min_value=0.001, max_value=0.75))
def test_probability_and_score_round_trip(p: float) -> None:
    raw = raw_score_from_log_odds_bad(np.array([np.log(p / (1 - p))]))
    assert abs(probability_from_score(raw)[0] - p) < 1e-9
