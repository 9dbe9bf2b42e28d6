"""The champion: a WOE scorecard. Each feature is cut into bins by ``optbinning`` (optimal binning under a
monotonic event-rate trend: the catalogue's ``favourable`` direction for its features, ``auto`` for columns
of other data sets; text columns are binned as categories), each bin replaced by its weight of evidence,
and a logistic regression on the WOE values gives the log-odds of going bad.

Points: a feature's points are ``−FACTOR × coefficient × WOE`` of the user's bin (``scaling.py``); the
score is the intercept's points plus every feature's, clipped to 350–950. A reason is a feature whose
points are below those of its best bin (``best_points``), by how much: moving that feature into its best
bin (``best_values`` holds a value in it) raises the score by exactly that shortfall.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from optbinning import BinningProcess
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

from earnloop.credit import explain
from earnloop.credit.features import BY_NAME
from earnloop.credit.scaling import FACTOR, OFFSET
from earnloop.credit.types import Scored

C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
_TREND = {1: "descending", -1: "ascending"}  # more favourable → fewer bads


def categorical_columns(frame: pd.DataFrame) -> list[str]:
    """Columns that are text, categories or booleans (binned as categories, one-hot in the baselines)."""
    return [
        str(name)
        for name, dtype in frame.dtypes.items()
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    ]


def _prepared(rows: pd.DataFrame, names: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    frame = rows.loc[:, list(names)].copy()
    for name in categorical:
        frame[name] = frame[name].astype(str)
    return frame


def _chosen_c(woe: np.ndarray, y: np.ndarray) -> float:
    """The regularisation strength with the best 5-fold cross-validated AUC on the training part."""
    folds = int(min(5, y.sum(), len(y) - y.sum()))
    if folds < 2:
        return 1.0
    search = LogisticRegressionCV(
        Cs=list(C_GRID),
        cv=folds,
        scoring="roc_auc",
        max_iter=2_000,
        l1_ratios=(0.0,),
        use_legacy_attributes=True,
    )
    return float(search.fit(woe, y).C_[0])


def _fit_same_sign(woe: np.ndarray, y: np.ndarray, c: float | None) -> tuple[np.ndarray, float]:
    """Logistic regression on WOE whose every coefficient has the WOE's sign (a higher WOE, a better bin,
    must never lower the score): features with a wrong-signed coefficient (collinear with stronger ones)
    are dropped one at a time, the most wrong first, and the rest refitted. ``c`` None: chosen by
    cross-validation on the training part. Returns (coefficients, intercept);
    a dropped feature's coefficient is 0."""
    kept = list(range(woe.shape[1]))
    coef = np.zeros(woe.shape[1])
    c = _chosen_c(woe, y) if c is None else c
    while kept:
        model = LogisticRegression(C=c, max_iter=2_000).fit(woe[:, kept], y)
        wrong = [(value, index) for value, index in zip(model.coef_[0], kept, strict=True) if value > 0]
        if not wrong:
            coef[kept] = model.coef_[0]
            return coef, float(model.intercept_[0])
        kept.remove(max(wrong)[1])
    return coef, float(np.log(max(y.mean(), 1e-6) / max(1 - y.mean(), 1e-6)))


class Scorecard:
    """A trained WOE scorecard (the :class:`~earnloop.credit.types.CreditModel` named ``scorecard``)."""

    name = "scorecard"

    def __init__(self, *, max_n_bins: int = 5, min_bin_size: float = 0.03, c: float | None = None) -> None:
        self.max_n_bins = max_n_bins
        self.min_bin_size = min_bin_size
        self.c = c  # None: chosen by cross-validation within the training data
        self.feature_names: tuple[str, ...] = ()
        self.categorical: tuple[str, ...] = ()
        self.base = 0.0
        self.baseline = np.zeros(0)
        self.best_points = np.zeros(0)
        self.best_values: dict[str, Any] = {}
        self._binning: Any = None
        self.coef = np.zeros(0)

    def fit(self, features: pd.DataFrame, y: np.ndarray) -> Scorecard:
        self.feature_names = tuple(str(name) for name in features.columns)
        self.categorical = tuple(categorical_columns(features))
        frame = _prepared(features, self.feature_names, self.categorical)
        params = {
            name: {"monotonic_trend": _TREND[BY_NAME[name].favourable]}
            for name in self.feature_names
            if name in BY_NAME and name not in self.categorical
        }
        self._binning = BinningProcess(
            list(self.feature_names),
            categorical_variables=list(self.categorical) or None,
            max_n_bins=self.max_n_bins,
            min_bin_size=self.min_bin_size,
            binning_fit_params=params,
        ).fit(frame, y)
        woe = self._woe(frame)
        self.coef, intercept = _fit_same_sign(woe, y, self.c)
        self.base = OFFSET - FACTOR * intercept
        points = self._points_of(woe)
        self.baseline = points.mean(axis=0)
        self.best_points = points.max(axis=0)
        self.best_values = {
            name: frame[name].iloc[int(np.argmax(points[:, col]))]
            for col, name in enumerate(self.feature_names)
        }
        return self

    def _woe(self, frame: pd.DataFrame) -> np.ndarray:
        woe = self._binning.transform(
            frame, metric="woe", metric_missing="empirical", metric_special="empirical"
        )
        return np.asarray(woe, dtype=float)

    def _points_of(self, woe: np.ndarray) -> np.ndarray:
        return -FACTOR * woe * self.coef

    def encode(self, rows: pd.DataFrame) -> np.ndarray:
        """The WOE matrix the regression sees (the bench's ceiling fits on it)."""
        return self._woe(_prepared(rows, self.feature_names, self.categorical))

    def points(self, rows: pd.DataFrame) -> np.ndarray:
        """(rows × features) points, positive raising the score."""
        return self._points_of(self.encode(rows))

    def raw_scores(self, rows: pd.DataFrame) -> np.ndarray:
        """Unrounded, unclipped scores (vectorised; ``score`` adds sub-scores and reasons)."""
        return np.asarray(self.base + self.points(rows).sum(axis=1), dtype=float)

    def probability_bad(self, rows: pd.DataFrame) -> np.ndarray:
        log_odds = (OFFSET - self.base) / FACTOR + self.encode(rows) @ self.coef
        return np.asarray(1.0 / (1.0 + np.exp(-log_odds)), dtype=float)

    def score(self, rows: pd.DataFrame) -> list[Scored]:
        points = self.points(rows)
        return explain.scored(self.feature_names, self.base, points, points - self.best_points, self.baseline)

    def bin_tables(self) -> dict[str, pd.DataFrame]:
        """Per feature: its bins with count, bad rate, WOE and points (the report's tables)."""
        tables = {}
        for col, name in enumerate(self.feature_names):
            table = self._binning.get_binned_variable(name).binning_table.build(add_totals=False)
            table = table[table["Count"] > 0][["Bin", "Count", "Event rate", "WoE"]].copy()
            table["Bin"] = table["Bin"].astype(str)
            table["Points"] = -FACTOR * table["WoE"].astype(float) * float(self.coef[col])
            tables[name] = table.reset_index(drop=True)
        return tables
