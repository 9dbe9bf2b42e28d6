"""``earnloop bench NAME``: benchmarks that print JSON lines and measure their own ceiling in the same run.

Each bench module exposes ``run(quick: bool) -> Iterator[dict]``; see DESIGN.md §8 for the line format.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from typing import Any

BENCHES: dict[str, str] = {
    "ledger": "earnloop.bench.ledger",
    "wallet": "earnloop.bench.wallet",
    "postback": "earnloop.bench.postback",
    "risk": "earnloop.bench.risk",
    "risk-deploy": "earnloop.bench.risk_deploy",
    "backtest": "earnloop.bench.backtest",
    "app": "earnloop.bench.app",
    "credit": "earnloop.bench.credit",
}


def _runner(name: str) -> Callable[..., Iterator[dict[str, Any]]]:
    module = importlib.import_module(BENCHES[name])
    runner: Callable[..., Iterator[dict[str, Any]]] = module.run
    return runner


def run_bench(name: str, *, quick: bool, json_only: bool) -> None:
    """Run one bench (or ``all``); print each result as a JSON line. ``KeyError`` for an unknown name."""
    names = list(BENCHES) if name == "all" else [name]
    for each in names:
        runner = _runner(each)
        for line in runner(quick=quick, verbose=not json_only):
            print(json.dumps(line), flush=True)
