"""Velocity features: how many events, how much money, how many distinct others an entity had in a
sliding window before this event (issue 15, ADR 0024).

Owns :class:`VelocitySpec` (one feature: an aggregate over one entity key's events of some kinds in a
window of 1 minute to 30 days), :class:`VelocityBackend` (one call per event: every feature's value as
of just *before* the event, then the event is added) and the in-process backend
:class:`MemoryVelocity` (thread-safe, memory bounded). The Redis backend is in ``velocity_redis.py``;
both give the same answers.

Semantics, shared by both backends: times are whole milliseconds (``at_ns // 1e6``); an event counts
for a later one at ``t`` when it was added before it, ``t - window < at <= t``, its kind is one of the
feature's kinds, and it carries the feature's key (and, for ``distinct`` and ``match``, the ``of``
key). An event is added once per ref (a retried event is not counted twice). Each entity keeps at most
:data:`ENTRIES_PER_KEY_MAX` events (the oldest are dropped first).
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from earnloop.risk.events import ENTITY_KEYS, EVENT_KINDS, EntityKey, EventKind, RiskEvent

Aggregate = Literal["count", "sum", "distinct", "match"]
AGGREGATES: tuple[Aggregate, ...] = ("count", "sum", "distinct", "match")
MS_NS = 1_000_000
WINDOW_MIN_S = 60
WINDOW_MAX_S = 30 * 86_400
FEATURES_MAX = 200
ENTRIES_PER_KEY_MAX = 10_000
SWEEP_EVERY_ADDS = 50_000
VALUE_CHARS_MAX = 200
SEPARATOR = "\x1f"  # between the parts of a stored entry; removed from entity values
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_LAST = "\U0010ffff"  # sorts after every member: (t, _LAST) bounds the entries at or before t


@dataclass(frozen=True)
class VelocitySpec:
    """One feature. ``count``: events; ``sum``: their amounts (minor units; mixed currencies are the
    caller's choice of kinds); ``distinct``: distinct values of the ``of`` key; ``match``: events whose
    ``of`` value is this event's (0 means "new to this entity", e.g. a device new to the user)."""

    name: str
    aggregate: Aggregate
    key: EntityKey
    window_s: int
    kinds: frozenset[EventKind]
    of: EntityKey | None = None

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"velocity feature name {self.name!r}: 1-64 of a-z, 0-9, _")
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"{self.name}: aggregate {self.aggregate!r} is not one of {AGGREGATES}")
        if self.key not in ENTITY_KEYS or (self.of is not None and self.of not in ENTITY_KEYS):
            raise ValueError(f"{self.name}: entity keys are {ENTITY_KEYS}")
        if (self.of is not None) != (self.aggregate in ("distinct", "match")) or self.of == self.key:
            raise ValueError(f"{self.name}: 'of' names another key, for distinct and match only")
        if not WINDOW_MIN_S <= self.window_s <= WINDOW_MAX_S:
            raise ValueError(f"{self.name}: window is {WINDOW_MIN_S} s to {WINDOW_MAX_S} s")
        if not self.kinds or not self.kinds <= set(EVENT_KINDS):
            raise ValueError(f"{self.name}: kinds are a non-empty subset of {EVENT_KINDS}")

    @property
    def stream(self) -> Stream:
        return Stream(self.key, self.kinds, self.of)


@dataclass(frozen=True)
class Stream:
    """The events a group of features reads: one entity key's events of some kinds (with the ``of``
    key's value kept for distinct/match features)."""

    key: EntityKey
    kinds: frozenset[EventKind]
    of: EntityKey | None

    @property
    def label(self) -> str:
        return f"{self.key}.{'+'.join(sorted(self.kinds))}.{self.of or ''}"


@dataclass(frozen=True)
class Plan:
    """The specs checked together: their streams in a fixed order, and the longest window of each."""

    specs: tuple[VelocitySpec, ...]
    streams: tuple[Stream, ...]
    stream_of: tuple[int, ...]  # per spec, the index of its stream
    keep_ms: tuple[int, ...]  # per stream, its longest window

    @classmethod
    def of(cls, specs: Sequence[VelocitySpec]) -> Plan:
        if len(specs) > FEATURES_MAX:
            raise ValueError(f"at most {FEATURES_MAX} velocity features, not {len(specs)}")
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError("velocity feature names must be unique")
        streams: list[Stream] = []
        for spec in specs:
            if spec.stream not in streams:
                streams.append(spec.stream)
        stream_of = tuple(streams.index(spec.stream) for spec in specs)
        keep = [
            max(s.window_s for s, i in zip(specs, stream_of, strict=True) if i == n)
            for n in range(len(streams))
        ]
        return cls(tuple(specs), tuple(streams), stream_of, tuple(k * 1000 for k in keep))


def clean(value: str) -> str:
    """An entity value as stored: bounded, without the entry separator."""
    return value.replace(SEPARATOR, "")[:VALUE_CHARS_MAX]


def event_ms(event: RiskEvent) -> int:
    return event.at_ns // MS_NS


class VelocityBackend(Protocol):
    specs: tuple[VelocitySpec, ...]

    def read_and_add(self, event: RiskEvent) -> dict[str, int]:
        """Every feature's value (by spec name) as of just before ``event``; then ``event`` is added.
        A feature whose key the event lacks is 0."""
        ...


def member(event: RiskEvent, other: str) -> str:
    """An event's identity in a stream (what Redis stores as the sorted-set member): its ref, amount and
    the ``of`` key's value (cleaned). The same event added again is the same member, not added twice."""
    return f"{clean(event.ref)}{SEPARATOR}{event.amount}{SEPARATOR}{other}"


Entry = tuple[int, str, int, str]  # (at_ms, member, amount, other): atomic, so the GC stops tracking it


class MemoryVelocity:
    """The in-process backend: per stream and entity value, one list of the events of the longest
    window ordered by (time, member), and per stream the set of ``value␟member`` held (a retried event
    is not added twice). One container per entity: the garbage collector walks long-lived containers."""

    def __init__(self, specs: Sequence[VelocitySpec]) -> None:
        self.plan = Plan.of(specs)
        self.specs = self.plan.specs
        self._lock = threading.Lock()
        self._data: dict[tuple[int, str], list[Entry]] = {}
        self._held: list[set[str]] = [set() for _ in self.plan.streams]
        self._adds = 0

    def read_and_add(self, event: RiskEvent) -> dict[str, int]:
        at_ms = event_ms(event)
        keys: dict[str, str] = {name: clean(value) for name, value in event.keys.items()}  # cleaned once
        with self._lock:
            values = {spec.name: self._read(spec, index, keys, at_ms) for spec, index in self._indexed()}
            self._add(event, keys, at_ms)
        return values

    def _indexed(self) -> Iterable[tuple[VelocitySpec, int]]:
        return zip(self.plan.specs, self.plan.stream_of, strict=True)

    def _read(self, spec: VelocitySpec, stream_index: int, keys: Mapping[str, str], at_ms: int) -> int:
        value = keys.get(spec.key)
        if value is None:
            return 0
        order = self._data.get((stream_index, value))
        if order is None:
            return 0
        low = bisect.bisect_right(order, (at_ms - spec.window_s * 1000, _LAST))
        high = bisect.bisect_right(order, (at_ms, _LAST), low)
        if spec.aggregate == "count":
            return high - low
        if spec.aggregate == "sum":
            return sum(order[i][2] for i in range(low, high))
        if spec.aggregate == "distinct":
            return len({order[i][3] for i in range(low, high)})
        mine = keys.get(spec.of) if spec.of is not None else None
        return 0 if mine is None else sum(order[i][3] == mine for i in range(low, high))

    def _add(self, event: RiskEvent, keys: Mapping[str, str], at_ms: int) -> None:
        for index, stream in enumerate(self.plan.streams):
            if event.kind not in stream.kinds:
                continue
            value = keys.get(stream.key)
            other = keys.get(stream.of) if stream.of is not None else ""
            if value is None or other is None:
                continue
            order = self._data.setdefault((index, value), [])
            identity = member(event, other)
            held = f"{value}{SEPARATOR}{identity}"
            if held not in self._held[index]:
                bisect.insort(order, (at_ms, identity, event.amount, other))
                self._held[index].add(held)
            self._trim(index, value, order, at_ms - self.plan.keep_ms[index])
        self._adds += 1
        if self._adds % SWEEP_EVERY_ADDS == 0:
            self._sweep(at_ms)

    def _trim(self, index: int, value: str, order: list[Entry], oldest_ms: int) -> None:
        """Drop events at or before ``oldest_ms`` and the oldest beyond the per-entity cap."""
        cut = bisect.bisect_right(order, (oldest_ms, _LAST))
        if len(order) - cut > ENTRIES_PER_KEY_MAX:
            cut = len(order) - ENTRIES_PER_KEY_MAX
        if cut <= 0:
            return
        held = self._held[index]
        for entry in order[:cut]:
            held.discard(f"{value}{SEPARATOR}{entry[1]}")
        del order[:cut]

    def _sweep(self, now_ms: int) -> None:
        """Drop entities whose newest event is older than their stream's longest window."""
        for (index, value), order in list(self._data.items()):
            self._trim(index, value, order, now_ms - self.plan.keep_ms[index])
            if not order:
                del self._data[(index, value)]

    def size(self) -> int:
        """Events held, over every stream and entity (for tests and ``doctor``)."""
        with self._lock:
            return sum(len(order) for order in self._data.values())
