"""From a probability of going bad to the 350–950 score, and back.

The mapping is the usual scorecard scaling on the odds of being *good*, ``odds = (1 − p) / p``:

``score = BASE_SCORE + PDO / ln 2 × ln(odds / BASE_ODDS)``

- ``BASE_ODDS`` (20:1, a 4.8 % probability of going bad) scores ``BASE_SCORE`` (650, the middle of the range);
- every doubling of the odds adds ``PDO`` points (50 "points to double the odds"): 40:1 scores 700, 10:1
  scores 600, 80:1 scores 750 and so on;
- the result is rounded and clipped to ``SCORE_MIN``..``SCORE_MAX`` (350 ↔ odds ≈ 0.31:1, i.e. a
  76 % probability of going bad or worse; 950 ↔ odds ≈ 1 280:1, a 0.08 % probability or better).

A model's log-odds of going bad are additive over features, so ``FACTOR`` (= PDO / ln 2) also turns each
feature's contribution into points: ``points = −FACTOR × contribution``.
"""

from __future__ import annotations

import math

import numpy as np

from earnloop.credit.types import SCORE_MAX, SCORE_MIN

PDO = 50.0
BASE_SCORE = 650.0
BASE_ODDS = 20.0
FACTOR = PDO / math.log(2)
OFFSET = BASE_SCORE - FACTOR * math.log(BASE_ODDS)
_EPS = 1e-12


def raw_score_from_log_odds_bad(log_odds_bad: np.ndarray) -> np.ndarray:
    """The unrounded, unclipped score for log-odds of going bad (``ln(p / (1 − p))``)."""
    return OFFSET - FACTOR * np.asarray(log_odds_bad, dtype=float)


def clip_score(raw: np.ndarray) -> np.ndarray:
    """Round to whole points and clip to the range."""
    clipped: np.ndarray = np.clip(np.rint(np.asarray(raw, dtype=float)), SCORE_MIN, SCORE_MAX)
    return clipped.astype(np.int64)


def score_from_probability(p_bad: np.ndarray) -> np.ndarray:
    """The 350–950 score for probabilities of going bad."""
    p = np.clip(np.asarray(p_bad, dtype=float), _EPS, 1 - _EPS)
    return clip_score(raw_score_from_log_odds_bad(np.log(p / (1 - p))))


def probability_from_score(score: np.ndarray) -> np.ndarray:
    """The probability of going bad that an (unclipped) score stands for."""
    log_odds_good = (np.asarray(score, dtype=float) - OFFSET) / FACTOR
    return 1.0 / (1.0 + np.exp(log_odds_good))
