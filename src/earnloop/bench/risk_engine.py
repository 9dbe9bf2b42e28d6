"""``earnloop bench risk``, the engine lines: decisions per second and latency of the risk engine's whole
per-event work — reading (and adding the event to) 10 velocity features, building the activation with
every catalogue field, and the 100 compiled rules — in-process and with Redis (issue 15, ADR 0024).

The ceiling, in the same run, is the same compiled rules evaluated on the same events' activations
precomputed (what the engine would cost if features were free). The decision record in the database is
not part of these lines: ``earnloop bench postback`` measures the whole earn path with it.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from earnloop.bench.common import BenchError, percentile
from earnloop.config import get_settings
from earnloop.risk.engine import RiskEngine, StaticStrategySource
from earnloop.risk.events import EventKind, RiskEvent
from earnloop.risk.fields import catalogue
from earnloop.risk.rules import (
    CompiledStrategy,
    Rule,
    Strategy,
    Thresholds,
    compile_strategy,
    evaluate,
    narrowed,
)
from earnloop.risk.velocity import MemoryVelocity, VelocityBackend, VelocitySpec

CEILING_WHAT = "the same compiled rules on the same events' activations precomputed, same run"
# (the precomputed activations hold the fields the rules read, as the engine hands them to CEL)
LATENCY_WHAT = "the same compiled rules on precomputed activations, same percentile, same run"
START_NS = 1_900_000_000 * 10**9
_HOUR, _DAY = 3_600, 86_400
_CLICK: frozenset[EventKind] = frozenset({"click"})
_ALL: frozenset[EventKind] = frozenset({"click", "milestone", "conversion"})
# The ten velocity features the bench's rules read (named f0..f9, as the precomputed bench's features).
SPECS = (
    VelocitySpec("f0", "count", "device", _HOUR, _CLICK),
    VelocitySpec("f1", "count", "ip24", _HOUR, _CLICK),
    VelocitySpec("f2", "count", "user", _DAY, frozenset({"milestone"})),
    VelocitySpec("f3", "sum", "user", _DAY, frozenset({"conversion"})),
    VelocitySpec("f4", "distinct", "device", _DAY, _ALL, of="user"),
    VelocitySpec("f5", "distinct", "ip24", _HOUR, _ALL, of="user"),
    VelocitySpec("f6", "count", "device", 600, _ALL),
    VelocitySpec("f7", "match", "user", 30 * _DAY, _ALL, of="device"),
    VelocitySpec("f8", "count", "ip24", _DAY, frozenset({"milestone"})),
    VelocitySpec("f9", "distinct", "user", _DAY, _ALL, of="device"),
)
Backend = Callable[[], VelocityBackend]


def events(count: int, seed: int) -> list[RiskEvent]:
    """A stream one second apart over 500 users, 25 devices and 10 networks (dense enough to fill the
    windows), clicks, milestones and conversions."""
    rng = random.Random(seed)
    kinds: tuple[EventKind, ...] = ("click", "click", "milestone", "conversion")
    return [
        RiskEvent(
            rng.choice(kinds),
            f"bench:{n}",
            START_NS + n * 10**9,
            rng.randint(0, 20),
            "TWD",
            keys={
                "user": str(rng.randrange(500)),
                "device": f"d{rng.randrange(25)}",
                "ip24": f"n{rng.randrange(10)}",
            },
        )
        for n in range(count)
    ]


def engine_for(rules: list[Rule], backend: VelocityBackend) -> RiskEngine:
    def strategies(fields: dict[str, type]) -> StaticStrategySource:
        strategy = Strategy("bench-engine-1", tuple(rules), Thresholds(review_score=60, block_score=120))
        return StaticStrategySource(compile_strategy(strategy, fields))

    return RiskEngine(strategies(catalogue(backend.specs)), backend)


def backends() -> dict[str, Backend]:
    """``memory`` always; ``redis`` when ``EARNLOOP_REDIS_URL`` is set (keys under a fresh prefix)."""
    found: dict[str, Backend] = {"memory": lambda: MemoryVelocity(SPECS)}
    url = get_settings().redis_url
    if url is not None:
        from earnloop.risk.velocity_redis import RedisVelocity

        found["redis"] = lambda: RedisVelocity.from_url(SPECS, url, prefix=f"bench:{uuid.uuid4().hex}:")
    return found


def one_pass(engine: RiskEngine, stream: list[RiskEvent]) -> tuple[float, list[int], list[dict[str, Any]]]:
    """The engine's work on every event: seconds, each event's nanoseconds, and the activations."""
    clock = time.perf_counter_ns
    samples_ns, activations = [0] * len(stream), []
    live = engine.strategies.live()
    started_ns = clock()
    for index, event in enumerate(stream):
        before_ns = clock()
        values = engine.builder.event(event)
        engine.builder.merge(values, engine.velocity.read_and_add(event), "velocity")
        evaluate(live, narrowed(live, values))
        samples_ns[index] = clock() - before_ns
        activations.append(narrowed(live, values))
    return (clock() - started_ns) / 1e9, samples_ns, activations


def precomputed(compiled: CompiledStrategy, activations: list[dict[str, Any]]) -> tuple[float, list[int]]:
    clock = time.perf_counter_ns
    samples_ns = [0] * len(activations)
    started_ns = clock()
    for index, values in enumerate(activations):
        before_ns = clock()
        evaluate(compiled, values)
        samples_ns[index] = clock() - before_ns
    return (clock() - started_ns) / 1e9, samples_ns


Line = Callable[[str, float, float, str, str, int], dict[str, Any]]


def engine_lines(
    rules: list[Rule], count: int, rounds: int, seed: int, line: Line
) -> Iterator[dict[str, Any]]:
    """Per backend: decisions/s and p50/p99 of the engine, each against its precomputed ceiling."""
    stream = events(count, seed)
    for name, backend in backends().items():
        took_s, took_ns, ceiling_s, ceiling_ns = 0.0, list[int](), 0.0, list[int]()
        for _ in range(rounds):  # a fresh backend each round: the same answers every round
            engine = engine_for(rules, backend())
            elapsed_s, samples_ns, activations = one_pass(engine, stream)
            took_s, took_ns = took_s + elapsed_s, took_ns + samples_ns
            elapsed_s, samples_ns = precomputed(engine.strategies.live(), activations)
            ceiling_s, ceiling_ns = ceiling_s + elapsed_s, ceiling_ns + samples_ns
            if engine.strategies.live().runtime_errors:
                raise BenchError(f"{engine.strategies.live().runtime_errors} rule errors in the engine bench")
        total = count * rounds
        yield line(
            f"engine_decisions_per_s_{name}",
            total / took_s,
            total / ceiling_s,
            "decisions/s",
            CEILING_WHAT,
            0,
        )
        for pct in (50, 99):
            value_us, ceiling_us = percentile(took_ns, pct) / 1_000, percentile(ceiling_ns, pct) / 1_000
            yield line(f"engine_latency_p{pct}_us_{name}", value_us, ceiling_us, "us", LATENCY_WHAT, 1)
