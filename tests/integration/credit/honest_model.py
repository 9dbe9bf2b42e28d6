"""A small honest credit model for the registry, scoring and privilege tests: a scikit-learn logistic
regression over the catalogue's standardised features, wrapped as a :class:`CreditModel`. Score =
``BASE + PDO / ln 2 · ln(odds good:bad)``, clipped to 350–950 (50 points double the odds, 650 at 1:1);
a reason's points are its term of that sum (coefficient × (value − mean) / sd, in points), worded by the
catalogue. Also the population it is trained on (a known generating process) and a helper to train it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from earnloop.credit.features import BY_NAME, FEATURE_NAMES
from earnloop.credit.types import DIMENSIONS, SCORE_MAX, SCORE_MIN, Dimension, Reason, Scored

PDO = 50.0
BASE = 650.0
FACTOR = PDO / math.log(2)


class HonestModel:
    name = "honest-logistic"
    feature_names = FEATURE_NAMES

    def __init__(self, rows: pd.DataFrame, bad: np.ndarray) -> None:
        x = rows[list(FEATURE_NAMES)].to_numpy(dtype=float)
        self.mean = x.mean(axis=0)
        self.sd = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        self.model = LogisticRegression(max_iter=500).fit((x - self.mean) / self.sd, bad)

    def _z(self, rows: pd.DataFrame) -> np.ndarray:
        return (rows[list(FEATURE_NAMES)].to_numpy(dtype=float) - self.mean) / self.sd

    def probability_bad(self, rows: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict_proba(self._z(rows))[:, 1])

    def score(self, rows: pd.DataFrame) -> list[Scored]:
        # ln(odds good) = −(intercept + Σ coef·z); each feature's term in points
        terms = -self._z(rows) * self.model.coef_[0] * FACTOR
        base = BASE - self.model.intercept_[0] * FACTOR
        return [self._one(base, row) for row in terms]

    def _one(self, base: float, terms: np.ndarray) -> Scored:
        clip = lambda v: round(min(SCORE_MAX, max(SCORE_MIN, v)))  # noqa: E731
        reasons = []
        by_dimension: dict[Dimension, float] = dict.fromkeys(DIMENSIONS, 0.0)
        for name, points in zip(FEATURE_NAMES, terms, strict=True):
            feature = BY_NAME[name]
            by_dimension[feature.dimension] += float(points)
            text = feature.good if points > 0 else feature.bad
            reasons.append(Reason(name, feature.dimension, float(points), text))
        reasons.sort(key=lambda r: r.points)
        subscores = {d: clip(BASE + 3 * v) for d, v in by_dimension.items()}
        return Scored(clip(base + float(terms.sum())), subscores, tuple(reasons))


def population(n: int, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """Users whose chance of going bad rises with reversals, open debt, denials and a young account."""
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame(
        {
            "account_age_days": rng.exponential(200, n),
            "profile_completeness": rng.integers(0, 4, n) / 3,
            "has_passkey": rng.integers(0, 2, n).astype(float),
            "active_days_90d": rng.integers(0, 90, n).astype(float),
            "activity_regularity": rng.uniform(0, 1, n),
            "categories_used": rng.integers(0, 4, n).astype(float),
            "reversed_share": rng.beta(1, 8, n),
            "debts_repaid_on_time": rng.uniform(0.5, 1, n),
            "open_debt": rng.exponential(100, n) * rng.integers(0, 2, n),
            "days_past_due": rng.exponential(5, n) * rng.integers(0, 2, n),
            "escrow_confirmed_on_time": rng.uniform(0.5, 1, n),
            "shared_devices_flagged": rng.poisson(0.2, n).astype(float),
            "risk_denials_90d": rng.poisson(0.3, n).astype(float),
            "referral_quality": np.ones(n),
            "balance_avg_90d": rng.exponential(5_000, n),
            "earned_90d": rng.exponential(2_000, n),
            "spent_90d": rng.exponential(3_000, n),
        }
    )
    logit = (
        -1.5
        + 6 * rows.reversed_share
        + 0.01 * rows.open_debt
        + 0.8 * rows.risk_denials_90d
        + 1.0 * rows.shared_devices_flagged
        - 0.004 * rows.account_age_days
        - 1.0 * rows.profile_completeness
        - 0.0001 * rows.balance_avg_90d
    )
    bad = (rng.uniform(0, 1, n) < 1 / (1 + np.exp(-logit))).astype(int)
    return rows, bad


def trained(n: int = 2_000) -> tuple[HonestModel, pd.DataFrame]:
    rows, bad = population(n)
    return HonestModel(rows, bad), rows
