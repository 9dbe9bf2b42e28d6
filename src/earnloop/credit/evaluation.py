"""How good a model is: AUC, KS and Gini of its probability of going bad, on a held-out time split (train
on the earliest applications, test on the latest) and over repeated stratified splits (the mean and the
spread, since one split of a small data set moves AUC by ±0.02)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedShuffleSplit

TEST_SHARE = 0.3


@dataclass(frozen=True, slots=True)
class Metrics:
    auc: float
    ks: float
    gini: float
    rows: int
    bad_rate: float


def metrics(y: np.ndarray, p_bad: np.ndarray) -> Metrics:
    """AUC; KS = the largest gap between the bads' and the goods' cumulative distributions of the
    prediction (= max(TPR − FPR)); Gini = 2 AUC − 1."""
    auc = float(roc_auc_score(y, p_bad))
    fpr, tpr, _ = roc_curve(y, p_bad)
    return Metrics(auc, float(np.max(tpr - fpr)), 2 * auc - 1, len(y), float(np.mean(y)))


def time_split(applied_at: pd.Series, test_share: float = TEST_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row positions: the latest ``test_share`` of applications are held out."""
    order = np.argsort(applied_at.to_numpy(), kind="stable")
    cut = round(len(order) * (1 - test_share))
    return order[:cut], order[cut:]


def stratified_splits(
    y: np.ndarray, repeats: int, seed: int, test_share: float = TEST_SHARE
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``repeats`` (train, test) splits keeping the bad rate in both parts; the same for the same seed,
    so that every model of a comparison sees the same splits."""
    splitter = StratifiedShuffleSplit(n_splits=repeats, test_size=test_share, random_state=seed)
    yield from splitter.split(np.zeros(len(y)), y)


@dataclass(frozen=True, slots=True)
class Summary:
    model: str
    repeats: int
    aucs: tuple[float, ...]
    kss: tuple[float, ...]

    @property
    def mean_auc(self) -> float:
        return statistics.fmean(self.aucs)

    @property
    def sd_auc(self) -> float:
        return statistics.stdev(self.aucs) if len(self.aucs) > 1 else 0.0

    @property
    def mean_ks(self) -> float:
        return statistics.fmean(self.kss)

    @property
    def sd_ks(self) -> float:
        return statistics.stdev(self.kss) if len(self.kss) > 1 else 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "model": self.model,
            "mean_auc": round(self.mean_auc, 4),
            "sd_auc": round(self.sd_auc, 4),
            "mean_ks": round(self.mean_ks, 4),
            "sd_ks": round(self.sd_ks, 4),
            "repeats": self.repeats,
        }


# fit on (train features, train target), return P(bad) for the test features
FitPredict = Callable[[pd.DataFrame, np.ndarray, pd.DataFrame], np.ndarray]


def compare(
    features: pd.DataFrame,
    y: np.ndarray,
    models: dict[str, FitPredict],
    *,
    repeats: int,
    seed: int,
    on_split: Callable[[str], None] | None = None,
) -> list[Summary]:
    """Every model on the same ``repeats`` stratified splits; one :class:`Summary` per model."""
    splits = list(stratified_splits(y, repeats, seed))
    summaries = []
    for name, fit_predict in models.items():
        aucs, kss = [], []
        for train, test in splits:
            p_bad = fit_predict(features.iloc[train], y[train], features.iloc[test])
            result = metrics(y[test], p_bad)
            aucs.append(result.auc)
            kss.append(result.ks)
            if on_split:
                on_split(name)
        summaries.append(Summary(name, repeats, tuple(aucs), tuple(kss)))
    return summaries
