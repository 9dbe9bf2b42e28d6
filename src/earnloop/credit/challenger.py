"""The challenger: LightGBM gradient boosting on the raw features, with a monotone constraint per catalogue
feature from its ``favourable`` direction (more favourable → never a higher probability of going bad);
columns of other data sets are unconstrained, text columns are LightGBM categories.

Points and reasons come from LightGBM's exact tree SHAP values (``pred_contrib``): a feature's points
are ``−FACTOR × its contribution`` to the log-odds of going bad, relative to the average user. A reason
is a feature whose contribution lowered the score (shortfall = its points when negative).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier

from earnloop.credit import explain
from earnloop.credit.features import BY_NAME
from earnloop.credit.scaling import FACTOR, OFFSET
from earnloop.credit.scorecard import categorical_columns
from earnloop.credit.types import Scored


class Challenger:
    """A trained LightGBM model (the :class:`~earnloop.credit.types.CreditModel` named ``lightgbm``)."""

    name = "lightgbm"

    def __init__(self, *, n_estimators: int = 300, learning_rate: float = 0.05, seed: int = 17) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.seed = seed
        self.feature_names: tuple[str, ...] = ()
        self.categories: dict[str, list[str]] = {}
        self._model: Any = None

    def _prepared(self, rows: pd.DataFrame) -> pd.DataFrame:
        frame = rows.loc[:, list(self.feature_names)].copy()
        for name, levels in self.categories.items():
            frame[name] = pd.Categorical(frame[name].astype(str), categories=levels)
        return frame

    def fit(self, features: pd.DataFrame, y: np.ndarray) -> Challenger:
        self.feature_names = tuple(str(name) for name in features.columns)
        self.categories = {
            name: sorted(features[name].astype(str).unique()) for name in categorical_columns(features)
        }
        constraints = [
            -BY_NAME[name].favourable if name in BY_NAME and name not in self.categories else 0
            for name in self.feature_names
        ]
        small = len(features) < 5_000
        self._model = LGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=7 if small else 31,
            min_child_samples=20 if small else 100,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            reg_lambda=1.0,
            monotone_constraints=constraints,
            monotone_constraints_method="intermediate",
            random_state=self.seed,
            n_jobs=2,
            verbose=-1,
        ).fit(self._prepared(features), y)
        return self

    def _contributions(self, rows: pd.DataFrame) -> np.ndarray:
        return np.asarray(self._model.predict(self._prepared(rows), pred_contrib=True), dtype=float)

    def probability_bad(self, rows: pd.DataFrame) -> np.ndarray:
        return np.asarray(self._model.predict_proba(self._prepared(rows))[:, 1], dtype=float)

    def raw_scores(self, rows: pd.DataFrame) -> np.ndarray:
        """Unrounded, unclipped scores (vectorised)."""
        log_odds = self._model.predict(self._prepared(rows), raw_score=True)
        return OFFSET - FACTOR * np.asarray(log_odds, dtype=float)

    def score(self, rows: pd.DataFrame) -> list[Scored]:
        contributions = self._contributions(rows)
        points = -FACTOR * contributions[:, :-1]
        base = OFFSET - FACTOR * float(contributions[0, -1]) if len(rows) else OFFSET
        baseline = np.zeros(points.shape[1])  # SHAP values are relative to the average already
        return explain.scored(self.feature_names, base, points, np.minimum(points, 0.0), baseline)
