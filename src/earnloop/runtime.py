"""Process-level tuning of earnloop's long-running processes (server, worker, benches): CPython's
cyclic garbage collector.

A ledger batch of 8,190 transfers allocates ~100k objects (rows, transfers, results), and a request
a few thousand. With CPython's default thresholds (700, 10, 10) one such batch sets off ~140
young-generation collections, and every hundredth collection walks every object the process holds —
SQLAlchemy's metadata, the app's routes, the catalogue of imported modules — though none of it is
garbage. Measured on an 8,190-transfer batch on PostgreSQL: ~50 ms of ~330 ms (ADR 0008).

So, once start-up is done, :func:`tune_gc` moves everything alive into the permanent generation
(``gc.freeze``: collections skip it, and forked workers keep sharing those pages) and raises the
young-generation threshold so the collector runs ~70x less often. Reference cycles are still
collected; they only live a little longer.
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Freeze what start-up allocated and collect cycles less often (idempotent)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
