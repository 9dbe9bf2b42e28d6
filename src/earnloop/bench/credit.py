"""``earnloop bench credit``: the champion scorecard (``credit/scorecard.py``) trained on 100 000 rows × 50
columns and scoring 1 000 000 rows (issue 17).

The rows are the simulated population (``credit/population.py``, its 17 catalogue features) plus 33 more
columns: 11 derived from the catalogue's (a feature times lognormal noise) and 22 of pure noise. Training
is binning (optbinning) + WOE + the same-sign logistic regression with its cross-validated strength;
scoring is WOE encoding + points + the score, vectorised (``raw_scores``, without building a reasons
object per user).

The ceiling, measured in the same run: a bare scikit-learn ``LogisticRegression`` fitted on, and predicting
from, the same WOE-encoded matrices (already encoded: the cost of the linear model alone).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from earnloop.bench.common import progress_logger, result_line
from earnloop.credit.features import FEATURE_NAMES
from earnloop.credit.population import TARGET, simulate
from earnloop.credit.scorecard import Scorecard
from earnloop.observability import configure_logging

BENCH = "credit"
SEED = 17
COLUMNS = 50
DERIVED = 11
CEILING_WHAT = "bare sklearn LogisticRegression on the same WOE-encoded matrix, same run"


@dataclass(frozen=True)
class Sizes:
    train: int
    score: int


FULL = Sizes(train=100_000, score=1_000_000)
QUICK = Sizes(train=3_000, score=20_000)


def wide(users: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """``users`` simulated rows widened to ``COLUMNS`` columns, and their labels."""
    population = simulate(users, seed)
    rng = np.random.default_rng(seed + 1)
    frame = population[list(FEATURE_NAMES)].copy()
    extra = COLUMNS - len(FEATURE_NAMES)
    for index in range(extra):
        if index < DERIVED:
            source = FEATURE_NAMES[index % len(FEATURE_NAMES)]
            frame[f"derived_{index}"] = frame[source] * rng.lognormal(0.0, 0.3, size=users)
        else:
            frame[f"noise_{index}"] = rng.normal(size=users)
    return frame, population[TARGET].to_numpy()


def _timed(action: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def run(quick: bool, verbose: bool) -> Iterator[dict[str, Any]]:
    sizes = QUICK if quick else FULL
    log = progress_logger(BENCH, verbose)
    configure_logging("WARNING", stream=sys.stderr)
    log(f"simulating {sizes.train} training and {sizes.score} scoring rows × {COLUMNS} columns")
    train, y = wide(sizes.train, SEED)
    scored, _ = wide(sizes.score, SEED + 100)
    log("training the scorecard")
    model, train_s = _timed(lambda: Scorecard().fit(train, y))
    log("scoring")
    scores, score_s = _timed(lambda: model.raw_scores(scored))
    if len(scores) != sizes.score or not np.all(np.isfinite(scores)):
        raise RuntimeError("the scorecard did not score every row")
    log("the ceiling: a bare LogisticRegression on the encoded matrices")
    encoded_train, encoded_score = model.encode(train), model.encode(scored)
    bare, bare_train_s = _timed(lambda: LogisticRegression(max_iter=2_000).fit(encoded_train, y))
    _, bare_score_s = _timed(lambda: bare.predict_proba(encoded_score))
    shape = {"rows": sizes.train, "columns": COLUMNS}
    for metric, rows, seconds, ceiling_s in (
        ("train_rows_per_s", sizes.train, train_s, bare_train_s),
        ("score_rows_per_s", sizes.score, score_s, bare_score_s),
    ):
        line = result_line(
            BENCH,
            "none",
            metric,
            rows / seconds,
            rows / ceiling_s,
            "rows/s",
            CEILING_WHAT,
            digits=0,
            **{**shape, "rows": rows},
        )
        yield {**line, "seconds": round(seconds, 3), "ceiling_seconds": round(ceiling_s, 4)}
