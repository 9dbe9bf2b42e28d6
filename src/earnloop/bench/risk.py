"""``earnloop bench risk``: risk decisions per second and their latency, in-process, for a strategy of 100
CEL rules over 10 precomputed feature values (issue 15).

The engine is :func:`earnloop.risk.rules.evaluate`: the whole strategy compiled into one CEL program, the
activation a plain dict built once per event. The ceiling, measured in the same run on the same events,
is the same 100 rules written as one plain-Python function feeding the same :func:`decide` (outcome,
score, reasons, thresholds). Both must reach the same decision on every event, or the bench fails.
Latency lines compare the engine's p50/p99 with the plain-Python path's at the same percentile.

Then the engine lines (``bench/risk_engine.py``): the same rules over 10 velocity features read per event
(in-process, and with Redis when ``EARNLOOP_REDIS_URL`` is set), activation included, against the same
compiled rules on the precomputed activations.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from earnloop.bench.common import BenchError, percentile, progress_logger, result_line
from earnloop.bench.risk_engine import SPECS, engine_lines
from earnloop.observability import configure_logging
from earnloop.risk.rules import CompiledStrategy, Decision, Rule, Strategy, Thresholds, compile_strategy
from earnloop.risk.rules import decide as decide_from
from earnloop.risk.rules import evaluate as evaluate_cel

BENCH = "risk"
RULES = 100
FEATURES = 10
SEED = 15
CEILING_WHAT = "the same 100 rules as one plain-Python function, same decide(), same events, same run"
LATENCY_WHAT = "the plain-Python path's latency at the same percentile, same run"

# (CEL template, Python template): the same comparison in both languages over two features a, b (values
# 0..200), with n in 150..200 and m in 0..50 so that each rule fires on a few percent of the events.
_TEMPLATES = (
    ("{a} > {n} && {b} < {m}", "{a} > {n} and {b} < {m}"),
    ("{a} >= {n} + 3 || {b} == {m}", "{a} >= {n} + 3 or {b} == {m}"),
    ("{a} + {b} > 2 * {n}", "{a} + {b} > 2 * {n}"),
    ("{a} % 7 == {m} % 7 && {b} > {n}", "{a} % 7 == {m} % 7 and {b} > {n}"),
)


@dataclass(frozen=True)
class Sizes:
    events: int
    rounds: int


FULL = Sizes(events=5_000, rounds=3)
QUICK = Sizes(events=200, rounds=1)

Evaluator = Callable[[dict[str, Any]], Decision]


def run(quick: bool, verbose: bool) -> Iterator[dict[str, Any]]:
    sizes = QUICK if quick else FULL
    log = progress_logger(BENCH, verbose)
    configure_logging("WARNING", stream=sys.stderr)  # stdout carries only the JSON lines
    rng = random.Random(SEED)
    rules, python_source = _rules(rng)
    compiled = compile_strategy(
        Strategy("bench-1", tuple(rules), Thresholds(review_score=60, block_score=120)),
        {f"f{index}": int for index in range(FEATURES)},
    )
    fired_python = _python_rules(python_source)
    events = [{f"f{index}": rng.randint(0, 200) for index in range(FEATURES)} for _ in range(sizes.events)]

    def engine(activation: dict[str, Any]) -> Decision:
        return evaluate_cel(compiled, activation)

    def ceiling(activation: dict[str, Any]) -> Decision:
        started_ns = time.perf_counter_ns()
        return decide_from(compiled, fired_python(activation), (), started_ns)

    _check_same_decisions(engine, ceiling, events, compiled)
    log(f"{RULES} rules, {FEATURES} features, {sizes.events} events x {sizes.rounds} rounds")
    cel_s, cel_ns, py_s, py_ns = 0.0, list[int](), 0.0, list[int]()
    for _ in range(sizes.rounds):  # alternate, so that both see the same machine
        elapsed_s, samples_ns = _timed(engine, events)
        cel_s, cel_ns = cel_s + elapsed_s, cel_ns + samples_ns
        elapsed_s, samples_ns = _timed(ceiling, events)
        py_s, py_ns = py_s + elapsed_s, py_ns + samples_ns
    total = sizes.events * sizes.rounds
    log(f"cel {total / cel_s:,.0f}/s, plain Python {total / py_s:,.0f}/s")
    yield _line("decisions_per_s", total / cel_s, total / py_s, "decisions/s", CEILING_WHAT, 0)
    for pct in (50, 99):
        value_us, ceiling_us = percentile(cel_ns, pct) / 1_000, percentile(py_ns, pct) / 1_000
        yield _line(f"decision_latency_p{pct}_us", value_us, ceiling_us, "us", LATENCY_WHAT, 1)
    log(f"the engine: {len(SPECS)} velocity features + activation + the same rules, per backend")
    yield from engine_lines(rules, sizes.events, sizes.rounds, SEED, _line)


def _rules(rng: random.Random) -> tuple[list[Rule], str]:
    """100 rules over features f0..f9 and the source of one Python function returning their bools."""
    rules, python = [], []
    for index in range(RULES):
        cel_template, python_template = _TEMPLATES[index % len(_TEMPLATES)]
        a, b = rng.sample(range(FEATURES), 2)
        n, m = rng.randint(150, 200), rng.randint(0, 50)
        rules.append(
            Rule(
                f"rule_{index:03d}",
                cel_template.format(a=f"f{a}", b=f"f{b}", n=n, m=m),
                "block" if index % 25 == 0 else "review" if index % 5 == 0 else "allow",
                rng.randint(0, 20),
            )
        )
        python.append("(" + python_template.format(a=f"e['f{a}']", b=f"e['f{b}']", n=n, m=m) + ")")
    return rules, "def fired(e):\n    return [" + ", ".join(python) + "]\n"


def _python_rules(source: str) -> Callable[[dict[str, Any]], list[bool]]:
    """The plain-Python function of the rules (source generated above from integers and feature names)."""
    namespace: dict[str, Any] = {}
    exec(compile(source, "<risk-bench-rules>", "exec"), namespace)  # noqa: S102 — our own generated code
    fired: Callable[[dict[str, Any]], list[bool]] = namespace["fired"]
    return fired


def _check_same_decisions(
    engine: Evaluator, ceiling: Evaluator, events: list[dict[str, Any]], compiled: CompiledStrategy
) -> None:
    outcomes: set[str] = set()
    for event in events:
        ours, theirs = engine(event), ceiling(event)
        if (ours.outcome, ours.score, ours.reasons) != (theirs.outcome, theirs.score, theirs.reasons):
            raise BenchError(f"CEL and plain Python disagree on {event}: {ours} vs {theirs}")
        outcomes.add(ours.outcome)
    if compiled.runtime_errors:
        raise BenchError(f"{compiled.runtime_errors} rule errors on the bench's events")
    if len(events) >= 100 and outcomes != {"allow", "review", "block"}:
        raise BenchError(f"the bench's events reach only {sorted(outcomes)}: it would not measure every path")


def _timed(evaluator: Evaluator, events: list[dict[str, Any]]) -> tuple[float, list[int]]:
    """Seconds for all events and each decision's nanoseconds."""
    clock = time.perf_counter_ns
    samples_ns = [0] * len(events)
    started_ns = clock()
    for index, event in enumerate(events):
        before_ns = clock()
        evaluator(event)
        samples_ns[index] = clock() - before_ns
    return (clock() - started_ns) / 1e9, samples_ns


def _line(metric: str, value: float, ceiling: float, unit: str, what: str, digits: int) -> dict[str, Any]:
    return result_line(
        BENCH, "none", metric, value, ceiling, unit, what, digits=digits, rules=RULES, features=FEATURES
    )


__all__ = ["run"]
