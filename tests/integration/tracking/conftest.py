"""Fixtures of the game tracking tests."""

from __future__ import annotations

import httpx
import pytest

from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from tests.integration.tracking.support import World, make_world, register_secret


@pytest.fixture
def world(api: httpx.Client, db: Database, ledger: LedgerService, clock: ManualClock) -> World:
    w = make_world(db, ledger, clock)
    register_secret(api, publisher_id=w.publisher_id)
    return w
