"""Helpers every bench shares: the bench error, nearest-rank percentiles and progress messages on stderr."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence


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
