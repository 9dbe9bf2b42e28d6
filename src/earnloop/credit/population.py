"""Training data: a simulated population with a known generating process, and a loader for any tabular
data set with a binary target (CSV or parquet) so that the same pipeline runs on public credit data.

The generating process (:func:`simulate`, deterministic for a seed):

1. every user has a latent creditworthiness ``z ~ N(0, 1)`` (higher is better) and an application time
   spread uniformly over ``DAYS`` days from ``START`` (``applied_at``; the held-out split is the latest
   part);
2. every catalogue feature (``features.FEATURES``, no missing values) is drawn from ``z`` plus its own
   noise with realistic marginals: lognormal amounts in minor units (``balance_avg_90d``, ``earned_90d``,
   ``spent_90d``, ``open_debt``, zero for most users), counts (binomial / Poisson: ``active_days_90d``,
   ``categories_used``, ``shared_devices_flagged``, ``risk_denials_90d``), shares in 0..1 (1 when there
   is nothing to measure, as the catalogue says) and a lognormal account age in days;
3. the label ``bad`` (debt not recovered within 60 days, or confirmed fraud) is Bernoulli with
   ``logit P(bad) = INTERCEPT + Σ COEFFICIENTS[f] × TRANSFORMS[f](x_f)`` over a few features only; the
   rest carry signal only through ``z`` (correlated but not causal), and ``z`` itself does not enter
   the label. So the true probability (``p_true``) is known and its AUC is the ceiling any model can
   reach; the signs say which direction each model must learn.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from earnloop.credit.features import FEATURE_NAMES

DAYS = 365
START = pd.Timestamp("2026-01-01", tz="UTC")
INTERCEPT = 1.0
# logit P(bad) = INTERCEPT + Σ coefficient × transform(feature): the known ground truth
COEFFICIENTS: dict[str, float] = {
    "days_past_due": 0.45,  # × ln(1 + days)
    "debts_repaid_on_time": -1.6,  # × share
    "reversed_share": 2.5,  # × share
    "account_age_days": -0.35,  # × ln(1 + days)
    "shared_devices_flagged": 0.7,  # × min(count, 3)
    "activity_regularity": -1.2,  # × share
    "balance_avg_90d": -0.12,  # × ln(1 + minor units)
}
TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "days_past_due": np.log1p,
    "debts_repaid_on_time": np.asarray,
    "reversed_share": np.asarray,
    "account_age_days": np.log1p,
    "shared_devices_flagged": lambda x: np.minimum(x, 3),
    "activity_regularity": np.asarray,
    "balance_avg_90d": np.log1p,
}
TARGET = "bad"
MAX_ROWS = 5_000_000


class DataError(ValueError):
    """The data set cannot be used (missing file or target, target not binary, too few rows)."""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=float)


def _share(rng: np.random.Generator, n: int, present: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """A share in 0..1 out of a few events, 1 where there was nothing to measure (``present`` false)."""
    events = rng.integers(1, 8, size=n)
    share = rng.binomial(events, _sigmoid(centre)) / events
    return np.where(present, share, 1.0)


def _amount(rng: np.random.Generator, log_mean: np.ndarray, sd: float) -> np.ndarray:
    return np.rint(np.exp(log_mean + rng.normal(0.0, sd, size=log_mean.shape))).astype(np.int64)


def _features(rng: np.random.Generator, z: np.ndarray) -> dict[str, np.ndarray]:
    n = z.size

    def noise() -> np.ndarray:
        return np.asarray(rng.normal(size=n), dtype=float)

    profile = rng.binomial(4, _sigmoid(0.6 + 0.7 * z)) / 4
    active = rng.binomial(90, _sigmoid(-1.0 + 0.5 * z + 0.7 * noise()))
    has_debt = rng.random(n) < _sigmoid(-1.3 - 0.6 * z)
    open_debt = np.where(rng.random(n) < _sigmoid(-2.3 - 0.9 * z), _amount(rng, np.full(n, 7.5), 1.0), 0)
    overdue = np.clip(np.rint(np.exp(2.2 - 0.5 * z + 0.8 * noise())), 1, 365).astype(np.int64)
    reversed_any = rng.random(n) < _sigmoid(-1.4 - 0.8 * z)
    referred = rng.random(n) < 0.3
    spends = rng.random(n) < _sigmoid(0.3 + 0.5 * z)
    return {
        "account_age_days": np.clip(_amount(rng, 4.6 + 0.5 * z, 0.9), 0, 3650),
        "profile_completeness": profile,
        "has_passkey": (rng.random(n) < _sigmoid(-0.6 + 0.5 * z + 1.5 * (profile - 0.5))).astype(np.int64),
        "active_days_90d": active,
        "activity_regularity": np.round(_sigmoid(0.3 + 0.7 * z + 0.9 * noise()), 3),
        "categories_used": 1 + rng.binomial(2, _sigmoid(-0.3 + 0.4 * z)),
        "reversed_share": np.where(reversed_any, np.round(rng.beta(1.2, 4.0, size=n), 3), 0.0),
        "debts_repaid_on_time": _share(rng, n, has_debt, 0.8 + 1.2 * z),
        "open_debt": open_debt,
        "days_past_due": np.where(open_debt > 0, overdue, 0),
        "escrow_confirmed_on_time": _share(rng, n, rng.random(n) < 0.4, 1.5 + 0.8 * z),
        "shared_devices_flagged": rng.poisson(np.exp(-2.4 - 0.8 * z)),
        "risk_denials_90d": rng.poisson(np.exp(-2.0 - 0.6 * z)),
        "referral_quality": _share(rng, n, referred, 1.5 + 0.6 * z),
        "balance_avg_90d": _amount(rng, 8.0 + 0.7 * z, 1.2),
        "earned_90d": _amount(rng, 5.0 + 0.4 * z + 0.4 * np.log1p(active), 0.6),
        "spent_90d": np.where(spends, _amount(rng, 9.0 + 0.5 * z, 1.0), 0),
    }


def true_log_odds(frame: pd.DataFrame) -> np.ndarray:
    """The generating process's log-odds of going bad for feature rows."""
    logit = np.full(len(frame), INTERCEPT)
    for name, coefficient in COEFFICIENTS.items():
        logit += coefficient * TRANSFORMS[name](frame[name].to_numpy(dtype=float))
    return logit


def simulate(users: int, seed: int) -> pd.DataFrame:
    """``users`` rows: the catalogue's columns, ``applied_at``, the true probability ``p_true`` and ``bad``
    (0/1), sorted by ``applied_at``."""
    if users < 1:
        raise DataError("users must be at least 1")
    rng = np.random.default_rng(seed)
    z = rng.normal(size=users)
    frame = pd.DataFrame(_features(rng, z))[list(FEATURE_NAMES)]
    seconds = rng.integers(0, DAYS * 86_400, size=users)
    frame["applied_at"] = START + pd.to_timedelta(np.sort(seconds), unit="s")
    frame["p_true"] = _sigmoid(true_log_odds(frame))
    frame[TARGET] = (rng.random(users) < frame["p_true"].to_numpy()).astype(np.int64)
    return frame


def binary_target(values: pd.Series, bad_value: str | None = None) -> np.ndarray:
    """0/1 from a target column: 0/1 (or booleans) as they are; two text levels need ``bad_value`` unless
    one of them is ``bad``."""
    present = values.dropna()
    levels = sorted({str(value) for value in present.unique()})
    if len(levels) != 2:
        raise DataError(f"the target must have exactly 2 values, found {len(levels)}: {levels[:5]}")
    if bad_value is None:
        if levels in (["0", "1"], ["0.0", "1.0"], ["False", "True"]):
            bad_value = levels[1]
        elif "bad" in levels:
            bad_value = "bad"
        else:
            raise DataError(f"say which target value is bad (one of {levels})")
    if bad_value not in levels:
        raise DataError(f"bad value {bad_value!r} is not one of the target's values {levels}")
    return (values.astype(str) == bad_value).to_numpy(dtype=np.int64)


def load_table(path: Path, target: str, bad_value: str | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and a 0/1 target from a CSV or parquet file; rows without a target are dropped."""
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    try:
        frame = pd.read_parquet(path) if path.suffix in {".parquet", ".pq"} else pd.read_csv(path)
    except (ValueError, OSError, ImportError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    return split_target(frame, target, bad_value)


def split_target(
    frame: pd.DataFrame, target: str, bad_value: str | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and 0/1 target of a frame (see :func:`binary_target`)."""
    if target not in frame.columns:
        raise DataError(f"no target column {target!r} (columns: {', '.join(map(str, frame.columns[:20]))})")
    frame = frame[frame[target].notna()]
    if len(frame) > MAX_ROWS:
        raise DataError(f"{len(frame)} rows: at most {MAX_ROWS}")
    y = binary_target(frame[target], bad_value)
    if len(frame) < 50 or min(int(y.sum()), int(len(y) - y.sum())) < 10:
        raise DataError("too few rows: at least 50, with 10 of each target value")
    features = frame.drop(columns=[target]).reset_index(drop=True)
    if features.shape[1] == 0:
        raise DataError("no feature columns besides the target")
    return features, y
