"""The risk engine a process screens with: where its strategy comes from, its velocity backend, its
feature sources and the catalogue they make (issue 15, ADR 0024).

Owns :class:`RiskEngine` (built once per process and handed to the earn paths explicitly, the way the
ledger is), :class:`StaticStrategySource` (a fixed strategy: the built-in default when nothing is
stored) and :func:`build_engine` (the engine the settings describe). Every engine reads the standard
feature sources — list membership and phone reputation — unless given others: ``sources=(...)``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from earnloop.auth import service as auth
from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.risk.default_strategy import DEFAULT_VELOCITY, default_strategy
from earnloop.risk.fields import ActivationBuilder, catalogue
from earnloop.risk.lists import ListFeatures
from earnloop.risk.normalise import DEFAULT_PHONE_REGION
from earnloop.risk.phones import PhoneFeatures
from earnloop.risk.rules import CompiledStrategy, Rule, Strategy, compile_strategy
from earnloop.risk.sources import FeatureSource, StrategySource
from earnloop.risk.strategies.source import DbStrategySource
from earnloop.risk.velocity import MemoryVelocity, VelocityBackend, VelocitySpec

ACCOUNT_CACHE_MAX = 100_000
ALLOW_ALL = Strategy("builtin.allow-all-0", (Rule("allow_all", "true", "allow"),))


class StaticStrategySource:
    """A strategy that does not change while the process runs (and an optional shadow beside it)."""

    def __init__(self, live: CompiledStrategy, shadow: CompiledStrategy | None = None) -> None:
        self._live, self._shadow = live, shadow

    def live(self) -> CompiledStrategy:
        return self._live

    def shadow(self) -> CompiledStrategy | None:
        return self._shadow


@dataclass
class RiskEngine:
    """What :func:`~earnloop.risk.screening.screen` needs: the strategy source, the velocity backend
    and the feature sources. ``fields`` is the catalogue every strategy is compiled against."""

    strategies: StrategySource
    velocity: VelocityBackend
    sources: tuple[FeatureSource, ...] = ()
    fields: dict[str, type] = field(init=False)
    builder: ActivationBuilder = field(init=False)
    _created: dict[int, int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.fields = catalogue(self.velocity.specs, self.sources)
        self.builder = ActivationBuilder(self.fields)

    def account_created_at_ns(self, conn: Connection, user_id: int) -> int | None:
        """When the user's account was opened (cached: it never changes)."""
        created = self._created.get(user_id)
        if created is None:
            created = auth.user_created_at_ns(conn, user_id)
            if created is not None:
                with self._lock:
                    if len(self._created) >= ACCOUNT_CACHE_MAX:
                        self._created.clear()
                    self._created[user_id] = created
        return created


StrategyFactory = Callable[[dict[str, type]], StrategySource]


def default_source(fields: dict[str, type]) -> StrategySource:
    """The built-in default strategy, compiled against ``fields`` (used when nothing is stored)."""
    return StaticStrategySource(compile_strategy(default_strategy(), fields))


def standard_sources(phone_region: str = DEFAULT_PHONE_REGION) -> tuple[FeatureSource, ...]:
    """The feature sources every engine reads: allow/block list membership of each entity key and the
    reputation of the event's phone number (ADR 0026)."""
    return (ListFeatures(phone_region), PhoneFeatures(phone_region))


def velocity_backend(settings: Settings, specs: Sequence[VelocitySpec]) -> VelocityBackend:
    """``EARNLOOP_RISK_VELOCITY``: ``memory`` (this process only) or ``redis`` (at ``EARNLOOP_REDIS_URL``,
    shared by every process)."""
    if settings.risk_velocity == "memory":
        return MemoryVelocity(specs)
    if settings.redis_url is None:
        raise ValueError("EARNLOOP_RISK_VELOCITY=redis needs EARNLOOP_REDIS_URL")
    from earnloop.risk.velocity_redis import RedisVelocity  # redis is only imported when configured

    return RedisVelocity.from_url(specs, settings.redis_url)


def stored_source(settings: Settings, db: Database) -> StrategyFactory:
    """The stored strategy ``EARNLOOP_RISK_STRATEGY`` (its live and shadow versions, hot-deployed:
    checked every ``EARNLOOP_RISK_STRATEGY_REFRESH_MS``), the built-in default deciding while it has no
    live version."""

    def factory(fields: dict[str, type]) -> StrategySource:
        fallback = compile_strategy(default_strategy(), fields)
        return DbStrategySource(
            db,
            settings.risk_strategy,
            fields=fields,
            refresh_ms=settings.risk_strategy_refresh_ms,
            fallback=fallback,
        )

    return factory


def standard_catalogue(settings: Settings) -> dict[str, type]:
    """The fields rules may read in an engine the settings describe (what publishing validates against)."""
    return catalogue(DEFAULT_VELOCITY, standard_sources(settings.phone_default_region))


def build_engine(
    settings: Settings,
    *,
    db: Database | None = None,
    sources: Sequence[FeatureSource] | None = None,
    strategies: StrategyFactory | None = None,
    specs: Sequence[VelocitySpec] = DEFAULT_VELOCITY,
) -> RiskEngine:
    """The engine the settings describe: the velocity backend they name, the standard feature sources
    (or ``sources``), and the strategy source: ``strategies`` if given, else the stored strategy in
    ``db`` (see :func:`stored_source`), else the built-in default."""
    velocity = velocity_backend(settings, specs)
    if sources is None:
        sources = standard_sources(settings.phone_default_region)
    if strategies is None:
        strategies = default_source if db is None else stored_source(settings, db)
    fields = catalogue(velocity.specs, sources)
    return RiskEngine(strategies(fields), velocity, tuple(sources))


def shadowed_default(fields: dict[str, type]) -> StrategySource:
    """Allow everything, with the default strategy in shadow beside it (its decisions stored, never
    acted on): for the demo, whose scripted players do in seconds what people do in days."""
    return StaticStrategySource(
        compile_strategy(ALLOW_ALL, fields), compile_strategy(default_strategy(), fields)
    )


def demo_engine() -> RiskEngine:
    return memory_engine(strategies=shadowed_default)


def memory_engine(
    *, sources: Sequence[FeatureSource] | None = None, strategies: StrategyFactory = default_source
) -> RiskEngine:
    """The default strategy on in-process velocity (tests, the demo, one-off CLI runs)."""
    velocity = MemoryVelocity(DEFAULT_VELOCITY)
    sources = standard_sources() if sources is None else sources
    return RiskEngine(strategies(catalogue(velocity.specs, sources)), velocity, tuple(sources))
