"""Helpers every bench shares: the bench error, the result line (DESIGN.md §8), nearest-rank percentiles
and progress messages on stderr."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from typing import Any


class BenchError(RuntimeError):
    """The bench could not measure what it claims (a request failed, a count does not add up)."""


def percentile(samples: Sequence[float], pct: int) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def progress_logger(bench: str, verbose: bool) -> Callable[[str], None]:
    """Progress to stderr (stdout carries only the JSON lines); silent unless ``verbose``."""

    def log(message: str) -> None:
        if verbose:
            print(f"bench {bench}: {message}", file=sys.stderr, flush=True)

    return log


def result_line(
    bench: str,
    dialect: str,
    metric: str,
    value: float,
    ceiling: float,
    unit: str,
    ceiling_what: str,
    *,
    digits: int,
    **extra: int,
) -> dict[str, Any]:
    """One JSON line: the value, the ceiling measured in the same run and their ratio (of the rounded
    figures, so that a reader can check it), plus the bench's own fields."""
    shown, shown_ceiling = _rounded(value, digits), _rounded(ceiling, digits)
    return {
        "bench": bench,
        "db": dialect,
        "metric": metric,
        "value": shown,
        "unit": unit,
        "ceiling": shown_ceiling,
        "ceiling_what": ceiling_what,
        "ratio": float(f"{shown / shown_ceiling:.4g}"),  # 4 significant digits, however small
        **extra,
    }


def _rounded(value: float, digits: int) -> float | int:
    """Never 0 (the ratio divides by it): at least 1 for ``digits`` 0, else at least ``10**-digits``."""
    return max(1, round(value)) if digits == 0 else max(10.0**-digits, round(value, digits))
