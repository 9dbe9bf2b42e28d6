"""Training on the simulated population: the held-out time split (earliest 70 % of applications to train,
latest 30 % to test), the champion and the challenger fitted on the same training rows, their AUC, KS and
Gini on the same test rows, and the generating process's own (the ceiling), all kept in a
:class:`Bundle` saved with joblib.

The saved file is the contract with the registry: ``load(path)`` gives a :class:`Bundle` whose
``champion`` and ``challenger`` are :class:`~earnloop.credit.types.CreditModel` objects taking a frame
with exactly the catalogue's columns (``features.FEATURE_NAMES``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from earnloop.credit.challenger import Challenger
from earnloop.credit.evaluation import Metrics, metrics, time_split
from earnloop.credit.features import FEATURE_NAMES
from earnloop.credit.population import TARGET, simulate
from earnloop.credit.scaling import clip_score
from earnloop.credit.scorecard import Scorecard

FORMAT = 1
STEPS = ("simulate", "champion", "challenger", "evaluate")


class BundleError(ValueError):
    """The models file is missing or is not a credit bundle."""


@dataclass
class Bundle:
    """Both trained models, how they were trained and how they did on the held-out time split."""

    champion: Scorecard
    challenger: Challenger
    users: int
    seed: int
    train_window: tuple[str, str]  # first and last application time trained on (ISO 8601, UTC)
    test_window: tuple[str, str]
    metrics: dict[str, Metrics]  # "scorecard", "lightgbm", "truth" (the generating process)
    trained_at: str
    format: int = FORMAT
    feature_names: tuple[str, ...] = field(default=FEATURE_NAMES)


def _window(times: pd.Series) -> tuple[str, str]:
    return (times.min().isoformat(), times.max().isoformat())


def held_out(users: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The simulated population's (train, test) time split."""
    population = simulate(users, seed)
    train, test = time_split(population["applied_at"])
    return population.iloc[train], population.iloc[test]


def train(users: int, seed: int, on_step: Callable[[str], None] | None = None) -> Bundle:
    """Simulate, fit both models on the earliest applications, evaluate them on the latest."""
    step = on_step or (lambda _name: None)
    train_rows, test_rows = held_out(users, seed)
    step("simulate")
    features, y = train_rows[list(FEATURE_NAMES)], train_rows[TARGET].to_numpy()
    champion = Scorecard().fit(features, y)
    step("champion")
    challenger = Challenger(seed=seed).fit(features, y)
    step("challenger")
    y_test = test_rows[TARGET].to_numpy()
    results = {
        model.name: metrics(y_test, model.probability_bad(test_rows)) for model in (champion, challenger)
    }
    results["truth"] = metrics(y_test, test_rows["p_true"].to_numpy())
    step("evaluate")
    return Bundle(
        champion=champion,
        challenger=challenger,
        users=users,
        seed=seed,
        train_window=_window(train_rows["applied_at"]),
        test_window=_window(test_rows["applied_at"]),
        metrics=results,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def save(bundle: Bundle, path: Path) -> None:
    """Write the bundle (atomically: a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    joblib.dump(bundle, partial)
    partial.replace(path)


def load(path: Path) -> Bundle:
    if not path.is_file():
        raise BundleError(f"no models at {path}: run `earnloop credit train` first")
    try:
        bundle = joblib.load(path)
    except Exception as exc:
        raise BundleError(f"cannot read {path}: {exc}") from exc
    if not isinstance(bundle, Bundle) or bundle.format != FORMAT:
        raise BundleError(f"{path} is not a credit models file of format {FORMAT}")
    return bundle


def scores_frame(bundle: Bundle, rows: pd.DataFrame) -> pd.DataFrame:
    """Champion probability and score per row (the report's input)."""
    return pd.DataFrame(
        {
            "p_bad": bundle.champion.probability_bad(rows),
            "score": clip_score(bundle.champion.raw_scores(rows)),
            "bad": rows[TARGET].to_numpy(dtype=np.int64),
        }
    )
