"""Velocity features: the in-process and the Redis backend give the brute-force reference's answers on
random event streams (point in time: each event sees only the events before it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from earnloop.risk.events import EventKind, RiskEvent
from earnloop.risk.velocity import MemoryVelocity, VelocitySpec, event_ms
from earnloop.risk.velocity_redis import RedisVelocity

SPECS = (
    VelocitySpec("clicks_device_1m", "count", "device", 60, frozenset({"click"})),
    VelocitySpec("clicks_device_1h", "count", "device", 3_600, frozenset({"click"})),
    VelocitySpec("amount_user_1d", "sum", "user", 86_400, frozenset({"milestone", "conversion"})),
    VelocitySpec(
        "users_device_1d", "distinct", "device", 86_400, frozenset({"click", "milestone"}), of="user"
    ),
    VelocitySpec("devices_user_30d", "distinct", "user", 30 * 86_400, frozenset({"click"}), of="device"),
    VelocitySpec("device_seen_user_30d", "match", "user", 30 * 86_400, frozenset({"click"}), of="device"),
    VelocitySpec("events_ip24_10m", "count", "ip24", 600, frozenset({"click", "milestone", "conversion"})),
)
START_NS = 1_800_000_000 * 10**9


def reference(history: list[RiskEvent], event: RiskEvent) -> dict[str, int]:
    """Every feature by brute force over the events added before ``event``."""
    at = event_ms(event)
    values = {}
    for spec in SPECS:
        mine = event.keys.get(spec.key)
        seen: dict[tuple[str, int, str], int] = {}
        for old in history:
            other = old.keys.get(spec.of) if spec.of else ""
            if mine is None or old.kind not in spec.kinds or old.keys.get(spec.key) != mine or other is None:
                continue
            seen.setdefault((old.ref, old.amount, other), event_ms(old))
        window = [k for k, t in seen.items() if at - spec.window_s * 1000 < t <= at]
        values[spec.name] = {
            "count": len(window),
            "sum": sum(amount for _, amount, _ in window),
            "distinct": len({other for _, _, other in window}),
            "match": sum(other == event.keys.get(spec.of or "user") for _, _, other in window),
        }[spec.aggregate]
    return values


KINDS: tuple[EventKind, ...] = ("click", "milestone", "conversion", "login")
key_values = st.sampled_from(["a", "b", "c"])
events = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(min_value=-5 * 60_000, max_value=40 * 60_000),  # ms after the previous event
        st.integers(min_value=0, max_value=10_000),
        st.fixed_dictionaries({}, optional={"user": key_values, "device": key_values, "ip24": key_values}),
        st.integers(min_value=0, max_value=30),  # refs repeat: a retried event
    ),
    max_size=40,
)


def _stream(raw: list[tuple[EventKind, int, int, dict[str, str], int]]) -> Iterator[RiskEvent]:
    at_ns = START_NS
    for kind, step_ms, amount, keys, ref in raw:
        at_ns += step_ms * 1_000_000 + 123
        yield RiskEvent(kind, f"e{ref}", at_ns, amount, "TWD", keys)  # type: ignore[arg-type]


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=events)
@pytest.mark.redis
def test_memory_and_redis_backends_agree_with_the_reference(
    redis_client: redis.Redis, raw: list[tuple[EventKind, int, int, dict[str, str], int]]
) -> None:
    prefix = f"test:velocity:{uuid.uuid4().hex}:"
    memory, shared = MemoryVelocity(SPECS), RedisVelocity(SPECS, redis_client, prefix=prefix)
    history: list[RiskEvent] = []
    try:
        for event in _stream(raw):
            expected = reference(history, event)
            assert memory.read_and_add(event) == expected
            assert shared.read_and_add(event) == expected
            history.append(event)
    finally:
        keys = list(redis_client.scan_iter(f"{prefix}*"))
        if keys:
            redis_client.delete(*keys)


def test_memory_backend_forgets_what_is_older_than_the_longest_window() -> None:
    spec = VelocitySpec("clicks_ip_1m", "count", "ip", 60, frozenset({"click"}))
    velocity = MemoryVelocity([spec])
    for n in range(100):
        velocity.read_and_add(RiskEvent("click", f"c{n}", START_NS + n * 61 * 10**9, keys={"ip": "1.2.3.4"}))
    assert velocity.size() == 1


def test_redis_keys_expire(redis_client: redis.Redis) -> None:
    prefix = f"test:velocity:{uuid.uuid4().hex}:"
    spec = VelocitySpec("clicks_ip_1m", "count", "ip", 60, frozenset({"click"}))
    velocity = RedisVelocity([spec], redis_client, prefix=prefix)
    velocity.read_and_add(RiskEvent("click", "c1", START_NS, keys={"ip": "1.2.3.4"}))
    (key,) = redis_client.scan_iter(f"{prefix}*")
    assert 0 < redis_client.pttl(key) <= 60_000 + 3_600_000
    redis_client.delete(key)


def test_a_spec_that_makes_no_sense_is_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        VelocitySpec("clicks_ip_1s", "count", "ip", 1, frozenset({"click"}))
    with pytest.raises(ValueError, match="'of'"):
        VelocitySpec("users_ip", "distinct", "ip", 60, frozenset({"click"}))
