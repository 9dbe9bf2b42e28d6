"""Fixtures of the risk engine tests: the app's engine decides by the default strategy, or by the
strategy a test passes with ``@pytest.mark.parametrize("risk", [strategy], indirect=True)``."""

from __future__ import annotations

import httpx
import pytest

from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine, StaticStrategySource, memory_engine
from earnloop.risk.rules import Strategy, compile_strategy
from tests.integration.tracking.support import World, make_world, register_secret


@pytest.fixture
def risk(request: pytest.FixtureRequest) -> RiskEngine:
    strategy: Strategy | None = getattr(request, "param", None)
    if strategy is None:
        return memory_engine()
    return memory_engine(strategies=lambda fields: StaticStrategySource(compile_strategy(strategy, fields)))


@pytest.fixture
def world(api: httpx.Client, db: Database, ledger: LedgerService, clock: ManualClock) -> World:
    w = make_world(db, ledger, clock)
    register_secret(api, publisher_id=w.publisher_id)
    return w
