"""What every part of credit agrees on: the five dimensions, the score range, a scored user (score,
sub-scores, reasons) and the model interface that training, the registry, scoring and the comparisons
share (:class:`CreditModel`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, get_args

import numpy as np
import pandas as pd

Dimension = Literal["identity", "behaviour", "payment_history", "connections", "capacity"]
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)
SCORE_MIN = 350
SCORE_MAX = 950


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a score is what it is: ``feature`` moved it by ``points`` (negative: lowered it); ``text`` is
    the plain-language sentence shown to the user (English source string, translated by the app)."""

    feature: str
    dimension: Dimension
    points: float
    text: str


@dataclass(frozen=True, slots=True)
class Scored:
    """One user's score (``SCORE_MIN``..``SCORE_MAX``), sub-scores per dimension (same range) and the
    reasons, most negative first."""

    score: int
    subscores: dict[Dimension, int]
    reasons: tuple[Reason, ...]


class CreditModel(Protocol):
    """A trained model: ``probability_bad`` for evaluation and comparisons, ``score`` for users.
    ``rows`` are feature frames whose columns include ``feature_names``."""

    name: str
    feature_names: tuple[str, ...]

    def probability_bad(self, rows: pd.DataFrame) -> np.ndarray: ...

    def score(self, rows: pd.DataFrame) -> list[Scored]: ...
