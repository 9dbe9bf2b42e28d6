"""The decision log read back, over real HTTP and the CLI on SQLite and PostgreSQL (issue 15): a stored
decision is explained rule by rule with the values each rule saw; a stored version is backtested over
every screened event against what the platform learned later (per-rule hits, precision, recall, money
saved and wrongly held), the result kept with the version; the shadow candidate is compared with the
live strategy."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import insert

from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.risk.backtest import SHARD_ROWS, Store, backtest
from earnloop.risk.engine import build_engine
from earnloop.risk.events import RiskEvent
from earnloop.risk.models import risk_decisions
from earnloop.risk.outcomes import record_outcome
from earnloop.risk.rules import Rule, Strategy
from earnloop.risk.screening import screen
from earnloop.risk.strategies.backtests import store_of
from tests.conftest import ADMIN_TOKEN, DbTarget
from tests.integration.risk.support import BIG, LENIENT, STRICT, Desk, desk

BASE = "/v1/risk/strategies/default"


@pytest.fixture
def ops(db: Database, db_target: DbTarget) -> Iterator[Desk]:
    with desk(db, db_target) as running:
        yield running


def _screen(db: Database, target: DbTarget, ref: str, *, amount: int, click_s: int) -> str:
    """Screen a milestone event with the engine a server process would build (the stored strategy)."""
    settings = Settings(database_url=target.url, admin_token=ADMIN_TOKEN, risk_strategy_refresh_ms=0)
    engine = build_engine(settings, db=db)
    event = RiskEvent(
        "milestone",
        ref,
        time.time_ns(),
        amount=amount,
        currency="TWD",
        keys={"user": "1", "device": "dev-1"},
        attrs={"click_to_event_s": click_s, "has_click_time": True},
    )
    with db.uow() as conn:
        return screen(conn, engine, event).outcome


def test_a_stored_decision_is_explained_rule_by_rule(ops: Desk, db: Database, db_target: DbTarget) -> None:
    assert _screen(db, db_target, "game:fast", amount=900, click_s=5) == "deny"  # the built-in default
    explained = ops.get("admin", "/v1/risk/decisions/game:fast/explain")
    assert explained.status_code == 200, explained.text
    body = explained.json()
    assert body["recorded"]["decision"] == "deny"
    assert "click_to_milestone_too_fast" in body["recorded"]["reasons"]
    steps = {step["rule"]: step for step in body["replay"]["steps"]}
    fast = steps["click_to_milestone_too_fast"]
    assert fast["fired"] is True
    assert fast["inputs"] == {"click_to_event_s": 5, "has_click_time": True, "kind": "milestone"}
    assert fast["score_added"] == 100
    assert body["replay"]["outcome"] == "block"
    assert not steps["emulator"]["fired"]
    missing = ops.get("admin", "/v1/risk/decisions/game:none/explain")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    unknown = ops.get("admin", "/v1/risk/decisions/game:fast/explain", version="nothing")
    assert unknown.status_code == 422


def test_a_decision_is_explained_under_another_version(ops: Desk, db: Database, db_target: DbTarget) -> None:
    assert ops.publish("alice", STRICT).status_code == 201
    _screen(db, db_target, "game:big", amount=BIG, click_s=600)  # no version live: the built-in allows
    replayed = ops.get("alice", "/v1/risk/decisions/game:big/explain", version="default-1").json()
    assert replayed["recorded"]["decision"] == "allow"
    assert replayed["replay"]["strategy_version"] == "default-1"
    assert replayed["replay"]["outcome"] == "block"
    assert [s["rule"] for s in replayed["replay"]["steps"] if s["fired"]] == ["big_amount"]


def test_a_backtest_scores_a_version_against_what_the_platform_learned(
    ops: Desk, db: Database, db_target: DbTarget
) -> None:
    amounts = {"a": BIG, "b": BIG + 1, "c": 100, "d": 200, "e": BIG * 2}
    for name, amount in amounts.items():
        assert _screen(db, db_target, f"game:{name}", amount=amount, click_s=600) == "allow"
    with db.uow() as conn:  # later: a, c and d turned out bad (reversed, clawed back, confirmed fraud)
        record_outcome(conn, event_ref="game:a", kind="reversed", amount=BIG, at_ns=1)
        record_outcome(conn, event_ref="game:c", kind="clawed_back", amount=100, at_ns=1)
        record_outcome(conn, event_ref="game:d", kind="confirmed_fraud", amount=200, at_ns=1)
    assert ops.publish("alice", STRICT).status_code == 201
    ran = ops.post("bob", f"{BASE}/versions/1/backtest")
    assert ran.status_code == 200, ran.text
    result = ran.json()
    assert (result["events"], result["known_bad"], result["caught"], result["wrongly_held"]) == (5, 3, 1, 2)
    assert (result["precision"], result["recall"]) == (round(1 / 3, 4), round(1 / 3, 4))
    assert result["money_saved"] == {"TWD": BIG}
    assert result["money_wrongly_held"] == {"TWD": BIG + 1 + BIG * 2}
    assert result["decisions_changed"] == 3
    big = {line["rule"]: line for line in result["rules"]}["big_amount"]
    assert (big["hits"], big["bad_hits"]) == (3, 1)
    kept = ops.get("alice", f"{BASE}/versions/1").json()
    assert kept["backtest"]["caught"] == 1
    audit = ops.get("alice", f"{BASE}/audit").json()
    assert [(entry["action"], entry["operator"]) for entry in audit][-1] == ("backtest", "bob")
    assert ops.post("admin", f"{BASE}/versions/1/backtest").status_code == 403  # names nobody
    assert ops.post("bob", f"{BASE}/versions/9/backtest").status_code == 404


def test_the_shadow_candidate_is_compared_with_the_live_strategy(
    ops: Desk, db: Database, db_target: DbTarget
) -> None:
    assert ops.publish("alice", LENIENT).status_code == 201
    assert ops.approve("bob", 1).status_code == 200
    assert ops.publish("alice", STRICT).status_code == 201
    assert ops.put("alice", f"{BASE}/shadow", {"version": 2}).status_code == 200
    for name, amount in (("s1", BIG), ("s2", 10), ("s3", BIG * 3)):
        assert _screen(db, db_target, f"game:{name}", amount=amount, click_s=600) == "allow"
    report = ops.get("admin", "/v1/risk/shadow-report").json()
    assert report["events"] == 3
    assert report["shadow_versions"] == ["default-2"]
    assert report["agreement"] == round(1 / 3, 4)
    assert {(p["live"], p["shadow"], p["events"]) for p in report["pairs"]} == {
        ("allow", "allow", 1),
        ("allow", "deny", 2),
    }
    assert {d["event_ref"] for d in report["latest_disagreements"]} == {"game:s1", "game:s3"}
    assert report["latest_disagreements"][0]["shadow_reasons"] == ["big_amount"]


def test_explain_and_backtest_from_the_command_line(cli: Any, db: Database, db_target: DbTarget) -> None:
    _screen(db, db_target, "game:cli", amount=900, click_s=5)
    explained = cli("risk", "explain", "game:cli")
    assert explained.returncode == 0, explained.stderr
    assert json.loads(explained.stdout)["recorded"]["decision"] == "deny"
    missing = cli("risk", "explain", "game:nothing")
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0
    assert "no decision recorded" in missing.stderr
    no_operator = cli("risk", "backtest", "default", "1")
    assert no_operator.returncode == 1
    assert "EARNLOOP_OPERATOR_TOKEN" in no_operator.stderr


def _stored_rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "event_ref": f"bulk:{n}",
            "decision": "allow",
            "strategy_version": "bulk-1",
            "created_at_ns": n,
            "kind": "milestone",
            "amount": n % 997,
            "currency": "TWD",
            "activation": json.dumps({"amount": n % 997, "kind": "milestone", "click_to_event_s": n % 90}),
        }
        for n in range(count)
    ]


def test_a_backtest_split_over_worker_processes_agrees_with_one_process(db: Database) -> None:
    with db.uow() as conn:
        conn.execute(insert(risk_decisions), _stored_rows(SHARD_ROWS + 5_000))
        for n in range(0, 2_000, 7):
            record_outcome(conn, event_ref=f"bulk:{n}", kind="reversed", amount=n % 997, at_ns=1)
    strategy = Strategy(
        "bulk-2",
        (Rule("fast", "click_to_event_s < 10", "block", 80), Rule("big", "amount > 900", "review", 20)),
    )
    fields = {"amount": int, "kind": str, "click_to_event_s": int}
    store = store_of(db)
    assert isinstance(store, Store)
    with db.uow(write=False) as conn:
        alone = backtest(store, strategy, fields, conn=conn, workers=1)
        split = backtest(store, strategy, fields, conn=conn, workers=2)
    for noisy in ("seconds", "events_per_s"):
        alone.pop(noisy), split.pop(noisy)
    assert split == alone
    assert alone["events"] == SHARD_ROWS + 5_000
    assert alone["known_bad"] == len(range(0, 2_000, 7))
