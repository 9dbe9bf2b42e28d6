"""Where a ledger batch's time goes: ``earnloop bench ledger`` (without ``--json``) runs a few more
batches of 8,190 transfers with a timer around each step of ``LedgerService.create_transfers`` and
prints the split to stderr.

The steps are looked up on their modules at call time (``repo.load_accounts(...)``, the service's
``create_transfers`` from the state machine), so wrapping those module attributes for the duration of
:func:`phase_timers` times every call without touching the ledger's code. What no step covers — the
end of the streamed ``COPY``, the commit, Python between the steps — is reported as "the rest".
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from earnloop.ledger import repository as repo
from earnloop.ledger import service

REPOSITORY_STEPS = (
    "lock_clock",
    "due_expiries",
    "load_transfers",
    "load_accounts",
    "load_pending",
    "load_failed",
    "_write_transfers",
    "insert_transfers",
    "insert_pending",
    "finish_pending",
    "apply_account_deltas",
    "insert_history",
    "insert_failed",
    "advance_clock",
)
LABELS = {
    "validate_transfers": "validate the batch",
    "create_transfers": "decide (state machine)",
    "_write_transfers": "encode + stream transfers (PostgreSQL COPY)",
    "insert_transfers": "insert transfers",
}


@contextmanager
def phase_timers() -> Iterator[defaultdict[str, float]]:
    """Seconds spent in each step while the block runs, by step name."""
    totals: defaultdict[str, float] = defaultdict(float)
    targets = [(service, "validate_transfers"), (service, "create_transfers")]
    targets += [(repo, name) for name in REPOSITORY_STEPS]
    originals = {(module, name): getattr(module, name) for module, name in targets}
    for (module, name), function in originals.items():
        setattr(module, name, _timed(function, name, totals))
    try:
        yield totals
    finally:
        for (module, name), function in originals.items():
            setattr(module, name, function)


def _timed(function: Callable[..., Any], name: str, totals: defaultdict[str, float]) -> Callable[..., Any]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - started

    return timed


def describe(totals: dict[str, float], total_s: float, batches: int) -> str:
    """One line: milliseconds per batch for the whole batch and each step that took time, largest
    first, then the rest."""
    per_batch = {name: seconds / batches * 1e3 for name, seconds in totals.items()}
    steps = sorted(((ms, name) for name, ms in per_batch.items() if ms >= 0.5), reverse=True)
    rest = total_s / batches * 1e3 - sum(per_batch.values())
    parts = [f"{LABELS.get(name, name)} {ms:.0f}" for ms, name in steps]
    parts.append(f"the rest (COPY end + commit + between steps) {rest:.0f}")
    return f"{total_s / batches * 1e3:.0f} ms per batch: " + ", ".join(parts) + " (ms)"
