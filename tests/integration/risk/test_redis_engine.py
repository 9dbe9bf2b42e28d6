"""Two processes' engines on one Redis see each other's events: clicks one observes count in what the
other decides (``EARNLOOP_RISK_VELOCITY=redis``); a Redis that cannot be reached fails safe to review."""

from __future__ import annotations

import uuid

import pytest

from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.risk.engine import build_engine
from earnloop.risk.events import RiskEvent
from earnloop.risk.screening import observe, screen

START_NS = 1_900_000_000 * 10**9


@pytest.mark.redis
def test_engines_sharing_redis_decide_on_each_others_events(db: Database, redis_url: str) -> None:
    settings = Settings(database_url="sqlite://", risk_velocity="redis", redis_url=redis_url)
    clicking, deciding = build_engine(settings), build_engine(settings)
    device = f"device-{uuid.uuid4().hex}"
    for n in range(40):  # one device floods clicks, seen by the first process only
        observe(
            clicking, RiskEvent("click", f"click:{device}:{n}", START_NS + n * 10**9, keys={"device": device})
        )
    milestone = RiskEvent(
        "milestone",
        f"game:test:{device}",
        START_NS + 3_600 * 10**9 - 10**9,
        100,
        "TWD",
        keys={"device": device},
        attrs={"has_click_time": True, "click_to_event_s": 3_000},
    )
    with db.uow() as conn:
        decided = screen(conn, deciding, milestone)
    assert (decided.outcome, decided.reasons[0]) == ("deny", "device_click_flood")


def test_an_unreachable_redis_fails_safe_to_review(db: Database) -> None:
    unreachable = Settings(database_url="sqlite://", risk_velocity="redis", redis_url="redis://127.0.0.1:1/0")
    engine = build_engine(unreachable)
    event = RiskEvent(
        "einvoice_receipt", f"einvoice:{uuid.uuid4().hex}", START_NS, 300, "TWD", keys={"user": "1"}
    )
    observe(engine, event)  # a click path never fails on it
    with db.uow() as conn:
        decided = screen(conn, engine, event)
    assert (decided.outcome, decided.reasons) == ("review", ("feature_error:velocity",))
