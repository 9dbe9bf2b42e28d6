"""``earnloop bench backtest``: how long a backtest of the built-in default strategy takes over a million
stored decisions (issue 15: ≤ 60 s), on a fresh SQLite file.

The store is filled first (not timed): one decision per event with an activation over the whole field
catalogue, as ``screen()`` stores it, and a known-bad outcome for 2% of them. The value is events
replayed per second by :func:`earnloop.risk.backtest.backtest` (read the rows, decode each activation,
evaluate the whole strategy, tally against the outcomes) with two worker processes. The ceiling,
measured in the same run, is the same strategy evaluated on activations already decoded in memory (no
database, no JSON), times the number of workers: the backtest's evaluation alone, perfectly parallel.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from earnloop.bench.common import BenchError, progress_logger, result_line
from earnloop.db.engine import make_database
from earnloop.db.migrate import upgrade
from earnloop.observability import configure_logging
from earnloop.risk.backtest import Store, backtest
from earnloop.risk.default_strategy import default_strategy
from earnloop.risk.engine import memory_engine
from earnloop.risk.models import risk_decisions, risk_outcomes
from earnloop.risk.rules import compile_strategy, evaluate

BENCH = "backtest"
SEED = 1_500
WORKERS = 2
BAD_SHARE = 0.02
INSERT_BATCH = 10_000
CEILING_SAMPLE = 20_000
CEILING_WHAT = f"the same strategy on activations decoded in memory, x{WORKERS} workers, same run"
KINDS = ("milestone", "conversion", "einvoice_receipt", "payment", "withdrawal")


@dataclass(frozen=True)
class Sizes:
    events: int


FULL = Sizes(events=1_000_000)
QUICK = Sizes(events=2_000)


def run(quick: bool, verbose: bool) -> Iterator[dict[str, Any]]:
    sizes = QUICK if quick else FULL
    log = progress_logger(BENCH, verbose)
    configure_logging("WARNING", stream=sys.stderr)  # stdout carries only the JSON lines
    fields = memory_engine().fields
    strategy = default_strategy()
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="earnloop-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'backtest.db'}"
        db = make_database(url, pool_size=2)
        try:
            upgrade(db)
            log(f"storing {sizes.events:,} decisions")
            sample = _fill(db, fields, sizes.events, rng)
            log("replaying")
            with db.uow(write=False) as conn:
                result = backtest(Store(url), strategy, fields, conn=conn, workers=WORKERS)
        finally:
            db.dispose()
    if result["events"] != sizes.events:
        raise BenchError(f"replayed {result['events']} of {sizes.events} stored decisions")
    ceiling = WORKERS * _in_memory_rate(strategy, fields, sample)
    value = sizes.events / result["seconds"]
    log(f"{value:,.0f} events/s in {result['seconds']:.1f} s; ceiling {ceiling:,.0f}/s")
    yield result_line(
        BENCH,
        "sqlite",
        "backtest_events_per_s",
        value,
        ceiling,
        "events/s",
        CEILING_WHAT,
        digits=0,
        events=sizes.events,
        seconds=round(result["seconds"]),
        workers=WORKERS,
        rules=len(strategy.rules),
        fields=len(fields),
        known_bad=int(result["known_bad"]),
    )


def _activation(fields: dict[str, type], rng: random.Random) -> dict[str, Any]:
    """Every catalogue field: counts small and mostly zero, flags rare, amounts in minor units."""
    values: dict[str, Any] = {}
    for name, kind in fields.items():
        if kind is bool:
            values[name] = rng.random() < 0.01
        elif kind is int:
            values[name] = rng.choice((0, 0, 0, 1, 2, rng.randint(0, 200)))
        elif kind is float:
            values[name] = 0.0
        else:
            values[name] = ""
    values["kind"] = rng.choice(KINDS)
    values["amount"] = rng.randint(1, 50_000)
    values["currency"] = "TWD"
    values["click_to_event_s"] = rng.randint(0, 7 * 86_400)
    values["account_age_s"] = rng.randint(0, 400 * 86_400)
    return values


def _fill(db: Any, fields: dict[str, type], events: int, rng: random.Random) -> list[dict[str, Any]]:
    """Store ``events`` decisions (and the bad outcomes); the first activations, kept for the ceiling."""
    sample: list[dict[str, Any]] = []
    for first in range(0, events, INSERT_BATCH):
        rows, bad = [], []
        for n in range(first, min(events, first + INSERT_BATCH)):
            activation = _activation(fields, rng)
            if len(sample) < CEILING_SAMPLE:
                sample.append(activation)
            ref = f"bench:{n}"
            rows.append(_row(ref, n, activation))
            if rng.random() < BAD_SHARE:
                bad.append(
                    {"event_ref": ref, "kind": "reversed", "amount": activation["amount"], "created_at_ns": n}
                )
        with db.uow() as conn:
            conn.execute(insert(risk_decisions), rows)
            if bad:
                conn.execute(insert(risk_outcomes), bad)
    return sample


def _row(ref: str, n: int, activation: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_ref": ref,
        "decision": "allow",
        "strategy_version": "bench-0",
        "created_at_ns": n,
        "kind": activation["kind"],
        "amount": activation["amount"],
        "currency": "TWD",
        "activation": json.dumps(activation, separators=(",", ":")),
    }


def _in_memory_rate(strategy: Any, fields: dict[str, type], sample: list[dict[str, Any]]) -> float:
    compiled = compile_strategy(strategy, fields)
    started = time.perf_counter()
    for activation in sample:
        evaluate(compiled, dict(activation))
    return len(sample) / (time.perf_counter() - started)


__all__ = ["run"]
