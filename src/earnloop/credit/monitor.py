"""Monitoring: the population stability index (PSI) of the score and of each feature against the
training distribution. At registration the training rows' deciles (bin edges and shares) are stored
with the model (:func:`reference_bins`); :func:`psi_report` compares the latest scores and their
features with them. PSI = Σ (actual − expected) · ln(actual / expected) over the bins (shares floored
at 1e-4); above 0.25 a distribution has shifted enough to alert (``ALERT``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

ALERT = 0.25
BINS = 10
FLOOR = 1e-4
SCORE = "score"


@dataclass(frozen=True, slots=True)
class Drift:
    name: str  # a feature's name, or "score"
    psi: float
    alert: bool


def _edges(values: np.ndarray) -> list[float]:
    """Inner decile edges, de-duplicated (a feature with few values gets fewer bins)."""
    quantiles = np.quantile(values, np.linspace(0, 1, BINS + 1)[1:-1]) if len(values) else np.array([])
    return sorted({float(q) for q in quantiles})


def _shares(values: np.ndarray, edges: Sequence[float]) -> list[float]:
    counts = np.bincount(np.searchsorted(np.asarray(edges), values, side="right"), minlength=len(edges) + 1)
    total = max(1, int(counts.sum()))
    return [float(c) / total for c in counts]


def reference_bins(rows: pd.DataFrame, scores: Sequence[int]) -> dict[str, Any]:
    """The training distribution: for the score and every numeric column, bin edges and shares."""
    columns = {name: rows[name].to_numpy(dtype=float) for name in rows.columns}
    columns[SCORE] = np.asarray(scores, dtype=float)
    bins: dict[str, Any] = {}
    for name, values in columns.items():
        edges = _edges(values)
        bins[name] = {"edges": edges, "shares": _shares(values, edges)}
    return bins


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    e = np.maximum(np.asarray(expected, dtype=float), FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_report(bins: Mapping[str, Any], rows: pd.DataFrame, scores: Sequence[int]) -> list[Drift]:
    """PSI of the score, then of each feature the reference has and ``rows`` carries."""
    report = []
    current = {name: rows[name].to_numpy(dtype=float) for name in rows.columns}
    current[SCORE] = np.asarray(scores, dtype=float)
    for name in [SCORE, *[n for n in bins if n != SCORE]]:
        if name not in bins or name not in current:
            continue
        reference = bins[name]
        value = psi(reference["shares"], _shares(current[name], reference["edges"]))
        report.append(Drift(name, round(value, 4), value > ALERT))
    return report
