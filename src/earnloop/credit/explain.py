"""From per-feature points to what a user sees (:class:`Scored`): the clipped score, the sub-score of each
dimension and the plain-language reasons. Both models use it, so that the champion and the challenger
explain themselves the same way.

- Sub-score of a dimension: the score the user would get if every feature *outside* that dimension were at
  the training population's average (``baseline``), clipped to the range.
- Reasons: first the features whose ``shortfall`` (points below what the feature could give) is at least
  ``MIN_POINTS``, most negative first, worded with the catalogue's ``bad`` sentence; then, up to
  ``MAX_REASONS``, the features that raised the score most above the average, with its ``good`` sentence.
  A feature outside the catalogue (public data sets) is worded from its column name.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from earnloop.credit.features import BY_NAME
from earnloop.credit.scaling import clip_score
from earnloop.credit.types import DIMENSIONS, Dimension, Reason, Scored

MAX_REASONS = 4
MIN_POINTS = 1.0
OTHER_DIMENSION: Dimension = "behaviour"  # where a feature outside the catalogue is reported


def dimension_of(name: str) -> Dimension:
    feature = BY_NAME.get(name)
    return feature.dimension if feature else OTHER_DIMENSION


def _text(name: str, good: bool) -> str:
    feature = BY_NAME.get(name)
    if feature:
        return feature.good if good else feature.bad
    return f"{name} raised your score" if good else f"{name} lowered your score"


def _reasons(names: Sequence[str], shortfall: np.ndarray, above: np.ndarray) -> tuple[Reason, ...]:
    reasons: list[Reason] = []
    for index in np.argsort(shortfall, kind="stable"):
        if shortfall[index] > -MIN_POINTS or len(reasons) == MAX_REASONS:
            break
        name = names[index]
        reasons.append(
            Reason(name, dimension_of(name), round(float(shortfall[index]), 1), _text(name, False))
        )
    named = {reason.feature for reason in reasons}
    for index in np.argsort(-above, kind="stable"):
        if above[index] < MIN_POINTS or len(reasons) == MAX_REASONS:
            break
        name = names[index]
        if name not in named:
            reasons.append(Reason(name, dimension_of(name), round(float(above[index]), 1), _text(name, True)))
    return tuple(reasons)


def subscores(names: Sequence[str], base: float, points: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """(rows × dimensions) sub-scores; a dimension without features gets the score at the average."""
    columns = []
    for dimension in DIMENSIONS:
        inside = np.array([dimension_of(name) == dimension for name in names])
        raw = base + baseline[~inside].sum() + points[:, inside].sum(axis=1)
        columns.append(clip_score(raw))
    return np.column_stack(columns)


def scored(
    names: Sequence[str], base: float, points: np.ndarray, shortfall: np.ndarray, baseline: np.ndarray
) -> list[Scored]:
    """One :class:`Scored` per row of ``points`` (rows × features, raising the score when positive);
    ``shortfall`` ≤ 0 is how far each feature is below its best; ``base`` the points every user has."""
    scores = clip_score(base + points.sum(axis=1))
    subs = subscores(names, base, points, baseline)
    above = points - baseline
    return [
        Scored(
            score=int(scores[row]),
            subscores={dimension: int(subs[row, col]) for col, dimension in enumerate(DIMENSIONS)},
            reasons=_reasons(names, shortfall[row], above[row]),
        )
        for row in range(points.shape[0])
    ]
