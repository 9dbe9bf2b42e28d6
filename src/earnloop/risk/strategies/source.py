"""Hot deploy: :class:`DbStrategySource`, the :class:`~earnloop.risk.sources.StrategySource` that holds a
stored strategy's compiled live and shadow versions and reloads them, without a restart, when another
process approves, rolls back or changes the shadow (ADR 0025).

The check is one primary-key row read (the strategy's pointer generation), at most once every
``refresh_ms`` per source, done by the one caller that finds the interval over while the others keep
deciding with what they hold. Versions are immutable, so a compiled version is reused across reloads.
A failed check (database away) is logged and retried at the next interval; a live version that does not
compile against this process's field catalogue is logged once and the source keeps what it had (a
shadow that does not compile is dropped; the live version still loads).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog
from sqlalchemy import Connection, bindparam, select

from earnloop.db.engine import Database
from earnloop.risk.rules import CompiledStrategy
from earnloop.risk.strategies.errors import StrategyError, StrategyNotFoundError
from earnloop.risk.strategies.models import risk_strategy_pointers
from earnloop.risk.strategies.stored import compiled_version, pointer

log = structlog.get_logger("earnloop.risk")
_GENERATION = select(risk_strategy_pointers.c.generation).where(
    risk_strategy_pointers.c.name == bindparam("name")
)
SOURCES_MAX = 64  # strategy names one process holds sources for
VERSIONS_MAX = 32  # named versions a process keeps compiled for dry runs


@dataclass(frozen=True, slots=True)
class _Held:
    generation: int
    live: CompiledStrategy | None
    shadow: CompiledStrategy | None


class DbStrategySource:
    """The stored strategy ``name``'s live and shadow versions, compiled against ``fields``; ``fallback``
    (e.g. the built-in default strategy) decides while no version of ``name`` is live."""

    def __init__(
        self,
        db: Database,
        name: str,
        *,
        fields: Mapping[str, type],
        refresh_ms: int,
        fallback: CompiledStrategy | None = None,
        monotonic_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db, self.name, self.fields = db, name, dict(fields)
        self.refresh_s, self.fallback, self._now_s = refresh_ms / 1_000, fallback, monotonic_s
        self._held: _Held | None = None
        self._next_check_s = 0.0
        self._refused_generation: int | None = None  # a generation whose live version did not compile
        self._refreshing = threading.Lock()
        self.reloads = 0  # how many times a change was loaded (for operators and tests)

    def live(self) -> CompiledStrategy:
        """The live version, or the fallback; :class:`StrategyNotFoundError` when neither exists."""
        held = self._current()
        if held is not None and held.live is not None:
            return held.live
        if self.fallback is not None:
            return self.fallback
        raise StrategyNotFoundError(f"strategy {self.name!r} has no live version")

    def shadow(self) -> CompiledStrategy | None:
        held = self._current()
        return held.shadow if held is not None else None

    def _current(self) -> _Held | None:
        held = self._held
        if held is None or self._now_s() >= self._next_check_s:
            self._check(blocking=held is None)  # before the first load, every caller waits for it
        return self._held

    def _check(self, *, blocking: bool) -> None:
        """The due check, by one thread: the others skip it (or, before the first load, wait for it)."""
        if not self._refreshing.acquire(blocking=blocking):
            return
        try:
            if self._now_s() >= self._next_check_s:  # not done by another thread meanwhile
                self._load()
        finally:
            self._refreshing.release()

    def refresh(self) -> None:
        """Check the generation now (whatever the interval) and reload on a change."""
        with self._refreshing:
            self._load()

    def _load(self) -> None:
        self._next_check_s = self._now_s() + self.refresh_s
        try:
            with self.db.uow(write=False) as conn:
                self._reload_if_changed(conn)
        except Exception as exc:  # keep deciding with what is held; the next interval tries again
            log.error(
                "risk_strategy_refresh_failed", strategy=self.name, error=f"{type(exc).__name__}: {exc}"
            )

    def _reload_if_changed(self, conn: Connection) -> None:
        generation = conn.execute(_GENERATION, {"name": self.name}).scalar()
        held = self._held
        if (
            generation is None
            or generation == self._refused_generation
            or (held and held.generation == generation)
        ):
            if held is None:
                self._held = _Held(-1, None, None)  # nothing stored yet
            return
        found = pointer(conn, self.name)
        assert found is not None
        try:
            live = self._compiled(conn, found.live_version)
        except StrategyError as exc:  # e.g. it reads a field this process does not have
            self._refused_generation = found.generation  # logged once, not retried every interval
            log.error(
                "risk_strategy_not_loaded", strategy=self.name, version=found.live_version, error=str(exc)
            )
            return
        try:
            shadow = self._compiled(conn, found.shadow_version)
        except StrategyError as exc:  # a shadow that does not compile runs nowhere; the live one does
            log.error(
                "risk_shadow_not_loaded", strategy=self.name, version=found.shadow_version, error=str(exc)
            )
            shadow = None
        self._held = _Held(found.generation, live, shadow)
        self.reloads += 1
        log.info(
            "risk_strategy_reloaded",
            strategy=self.name,
            live=found.live_version,
            shadow=found.shadow_version,
            generation=found.generation,
        )

    def _compiled(self, conn: Connection, version: int | None) -> CompiledStrategy | None:
        """The compiled ``version``: the one held when it is the same version, else compiled now."""
        if version is None:
            return None
        held = self._held
        for compiled in (held.live, held.shadow) if held is not None else ():
            if compiled is not None and compiled.strategy.version == f"{self.name}-{version}":
                return compiled
        return compiled_version(conn, self.name, version, self.fields)


class StrategySources:
    """A process's sources, one per strategy name asked for (at most ``SOURCES_MAX``), and the named
    versions it compiled for dry runs (at most ``VERSIONS_MAX``; versions never change once stored)."""

    def __init__(self, db: Database, *, fields: Mapping[str, type], refresh_ms: int) -> None:
        self.db, self.fields, self.refresh_ms = db, dict(fields), refresh_ms
        self._sources: dict[str, DbStrategySource] = {}
        self._versions: dict[tuple[str, int], CompiledStrategy] = {}
        self._lock = threading.Lock()

    def source(self, name: str) -> DbStrategySource:
        with self._lock:
            found = self._sources.get(name)
            if found is None:
                if len(self._sources) >= SOURCES_MAX:
                    self._sources.clear()
                found = DbStrategySource(self.db, name, fields=self.fields, refresh_ms=self.refresh_ms)
                self._sources[name] = found
            return found

    def version(self, name: str, version: int) -> CompiledStrategy:
        """A stored version, compiled (once) against the catalogue; 404 when it does not exist."""
        key = (name, version)
        found = self._versions.get(key)
        if found is None:
            with self.db.uow(write=False) as conn:
                found = compiled_version(conn, name, version, self.fields)
            with self._lock:
                if len(self._versions) >= VERSIONS_MAX:
                    self._versions.clear()
                self._versions[key] = found
        return found
