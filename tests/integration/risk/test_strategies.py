"""Stored strategies over real HTTP on SQLite and PostgreSQL (issue 15, ADR 0025): publishing validates
every rule (named with its position) and runs the test pack, a version goes live only with a second
risk operator's approval, a rollback restores the earlier version's decisions, a shadow candidate decides
beside the live version, and every change is in the audit log."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from earnloop.auth.models import operators
from earnloop.db.engine import Database
from earnloop.risk.strategies.models import risk_strategy_audit, risk_strategy_versions
from tests.conftest import DbTarget
from tests.integration.risk.support import (
    BIG,
    LENIENT,
    STRATEGY,
    STRICT,
    Desk,
    desk,
    example,
    rule,
    version,
)

BASE = "/v1/risk/strategies/default"


@pytest.fixture
def ops(db: Database, db_target: DbTarget) -> Iterator[Desk]:
    with desk(db, db_target) as running:
        yield running


def _rows(db: Database, table: Any) -> int:
    with db.uow(write=False) as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/" + slug)
    return body


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("amount >", "at 1:"),  # syntax error: line and column
        ("amount > velocity_ip_1h", "unknown field 'velocity_ip_1h'"),
        ("amount + 1", "not boolean"),
        ('amount > "10"', "operand types"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_rule_and_its_position(
    ops: Desk, db: Database, expression: str, says: str
) -> None:
    document = version(rule("fast_install", "click_to_event_s < 5"), rule("broken", expression))
    body = _problem(ops.publish("alice", document), 422, "invalid-rule")
    assert "'broken'" in body["detail"]
    assert says in body["detail"]
    assert body["invalid_params"][0]["name"] == "body.rules.1.expression"
    assert _rows(db, risk_strategy_versions) == 0
    assert _rows(db, risk_strategy_audit) == 0
    _problem(ops.get("alice", BASE), 404, "strategy-not-found")


def test_duplicate_reason_codes_name_the_second_rule(ops: Desk) -> None:
    document = version(rule("same", "amount > 1"), rule("other", "amount > 2"), rule("same", "amount > 3"))
    body = _problem(ops.publish("alice", document), 422, "invalid-rule")
    assert body["invalid_params"][0]["name"] == "body.rules.2.expression"
    assert "duplicate reason code" in body["detail"]


def test_a_version_goes_live_only_with_another_risk_operators_approval(ops: Desk) -> None:
    published = ops.publish("alice", LENIENT)
    assert published.status_code == 201, published.text
    assert published.json() | {"created_at": None} == published.json() | {
        "name": STRATEGY,
        "version": 1,
        "label": "default-1",
        "status": "draft",
        "author": "alice",
        "approver": None,
        "created_at": None,
    }
    _problem(ops.post("alice", "/v1/risk/evaluate", {"activation": {}}), 404, "strategy-not-found")
    refused = _problem(ops.approve("alice", 1), 403, "four-eyes-required")
    assert "published by alice" in refused["detail"]
    _problem(ops.approve("vera", 1), 403, "forbidden")  # a viewer, not a risk operator
    _problem(ops.approve("admin", 1), 403, "forbidden")  # the admin token names nobody
    assert ops.get("alice", f"{BASE}/versions/1").json()["status"] == "draft"
    approved = ops.approve("bob", 1)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "live"
    assert approved.json()["approver"] == "bob"
    assert approved.json()["self_approved"] is False
    assert ops.decide({"amount": BIG})["decision"]["version"] == "default-1"
    _problem(ops.approve("bob", 1), 409, "strategy-state-conflict")


def test_without_four_eyes_an_author_approves_their_own_version_recorded_as_such(
    db: Database, db_target: DbTarget
) -> None:
    with desk(db, db_target, risk_four_eyes=False) as small_team:
        assert small_team.publish("alice", LENIENT).status_code == 201
        approved = small_team.approve("alice", 1)
        assert approved.status_code == 200, approved.text
        assert approved.json()["approver"] == "alice"
        assert approved.json()["self_approved"] is True
        entry = small_team.get("alice", f"{BASE}/audit").json()[-1]
        assert entry["action"] == "approved"
        assert entry["detail"]["self_approved"] is True


def test_reads_need_the_admin_token_or_a_risk_operator_and_changes_a_risk_operator(ops: Desk) -> None:
    assert ops.publish("alice", LENIENT).status_code == 201
    for path in (BASE, f"{BASE}/versions", f"{BASE}/versions/1", f"{BASE}/audit"):
        assert ops.get("admin", path).status_code == 200
        assert ops.get("bob", path).status_code == 200
        _problem(ops.get("vera", path), 403, "forbidden")
        _problem(ops.http.get(path), 401, "unauthorized")
        _problem(ops.http.get(path, headers={"Authorization": "Bearer op_not-a-token"}), 401, "unauthorized")
    _problem(ops.publish("admin", LENIENT), 403, "forbidden")
    _problem(ops.publish("vera", LENIENT), 403, "forbidden")
    assert len(ops.get("admin", f"{BASE}/versions").json()) == 1


PACK = [
    example("small install", "allow", amount=100, click_to_event_s=60),
    example("injected click", "block", amount=100, click_to_event_s=2),
    example("big amount", "allow", amount=BIG, click_to_event_s=60),
]


def test_a_version_that_changes_an_expected_outcome_is_refused_unless_its_pack_says_so(
    ops: Desk, db: Database
) -> None:
    first = dict(LENIENT, test_pack=PACK)
    assert ops.publish("alice", first).status_code == 201
    # the pack carried over from version 1 now fails on one example: refused, the example listed
    carried = _problem(ops.publish("alice", STRICT), 422, "test-pack-failed")
    assert "carried over from version 1" in carried["detail"]
    assert carried["invalid_params"] == [
        {
            "name": "test_pack(version 1).2",
            "reason": "#2 'big amount': expected allow, got block (big_amount)",
        }
    ]
    # a submitted pack that fails is refused too
    wrong = dict(STRICT, test_pack=[*PACK[:2], example("big amount", "review", amount=BIG)])
    failed = _problem(ops.publish("alice", wrong), 422, "test-pack-failed")
    assert [p["name"] for p in failed["invalid_params"]] == ["body.test_pack.2"]
    # the pack updated with the version: accepted, stored with it
    updated = dict(STRICT, test_pack=[*PACK[:2], example("big amount", "block", amount=BIG)])
    published = ops.publish("alice", updated)
    assert published.status_code == 201, published.text
    assert published.json()["version"] == 2  # refused versions used no number
    stored = ops.get("bob", f"{BASE}/versions/2").json()
    assert stored["test_pack"][2] == {
        "label": "big amount",
        "activation": {"amount": BIG},
        "expected": "block",
    }
    assert _rows(db, risk_strategy_versions) == 2


def test_a_retried_publish_with_its_idempotency_key_gets_the_same_version(ops: Desk, db: Database) -> None:
    path = f"{BASE}/versions"

    def send(who: str, key: str, body: dict[str, Any]) -> Any:
        return ops.http.post(path, json=body, headers=ops.as_(who) | {"Idempotency-Key": key})

    first = send("alice", "retry-1", LENIENT)
    assert first.status_code == 201, first.text
    assert send("alice", "retry-1", LENIENT).json() == first.json()
    _problem(send("alice", "retry-1", STRICT), 409, "exists-with-different-fields")
    assert send("bob", "retry-1", LENIENT).json()["version"] == 2  # keys are each operator's own
    assert _rows(db, risk_strategy_versions) == 2
    assert [e["action"] for e in ops.get("alice", f"{BASE}/audit").json()] == ["published", "published"]


def test_a_pack_naming_an_unknown_field_is_refused(ops: Desk) -> None:
    document = dict(LENIENT, test_pack=[example("x", "allow", velocity_ip_1h=3)])
    body = _problem(ops.publish("alice", document), 422, "invalid-strategy")
    assert "test_pack.0: unknown field 'velocity_ip_1h'" in body["detail"]


def test_rollback_restores_the_earlier_versions_decisions(ops: Desk) -> None:
    big = {"amount": BIG, "click_to_event_s": 60}
    assert ops.publish("alice", LENIENT).status_code == 201
    assert ops.approve("bob", 1).status_code == 200
    first = ops.decide(big)["decision"]
    assert (first["outcome"], first["version"]) == ("allow", "default-1")
    assert ops.publish("alice", STRICT).status_code == 201
    assert ops.approve("bob", 2).status_code == 200
    second = ops.decide(big)["decision"]
    assert (second["outcome"], second["reasons"], second["version"]) == ("block", ["big_amount"], "default-2")

    restored = ops.post("alice", f"{BASE}/versions/1/rollback")
    assert restored.status_code == 200, restored.text
    assert restored.json()["status"] == "live"
    again = ops.decide(big)["decision"]
    assert (again["outcome"], again["version"]) == ("allow", "default-1")
    statuses = {v["version"]: v["status"] for v in ops.get("bob", f"{BASE}/versions").json()}
    assert statuses == {1: "live", 2: "retired"}
    _problem(ops.post("alice", f"{BASE}/versions/1/rollback"), 409, "strategy-state-conflict")
    assert ops.publish("alice", STRICT).status_code == 201  # version 3: a draft, never approved
    never = _problem(ops.post("alice", f"{BASE}/versions/3/rollback"), 409, "strategy-state-conflict")
    assert "never approved" in never["detail"]


def test_a_shadow_candidate_decides_beside_the_live_version(ops: Desk) -> None:
    big = {"amount": BIG, "click_to_event_s": 60}
    assert ops.publish("alice", LENIENT).status_code == 201
    assert ops.approve("bob", 1).status_code == 200
    assert ops.publish("alice", STRICT).status_code == 201
    assert ops.decide(big)["shadow"] is None
    pointed = ops.put("alice", f"{BASE}/shadow", {"version": 2})
    assert pointed.status_code == 200, pointed.text
    assert (pointed.json()["live_version"], pointed.json()["shadow_version"]) == (1, 2)
    both = ops.decide(big)
    assert (both["decision"]["outcome"], both["decision"]["version"]) == ("allow", "default-1")
    assert (both["shadow"]["outcome"], both["shadow"]["version"]) == ("block", "default-2")
    _problem(ops.put("alice", f"{BASE}/shadow", {"version": 1}), 409, "strategy-state-conflict")
    _problem(ops.put("alice", f"{BASE}/shadow", {"version": 9}), 404, "strategy-not-found")
    assert ops.approve("bob", 2).status_code == 200  # the candidate goes live: no shadow left
    assert ops.get("alice", BASE).json()["shadow_version"] is None
    assert ops.decide(big)["shadow"] is None


def test_every_change_is_in_the_audit_log_with_who_made_it(ops: Desk) -> None:
    assert ops.publish("alice", LENIENT).status_code == 201
    assert ops.approve("bob", 1).status_code == 200
    assert ops.publish("bob", STRICT).status_code == 201
    assert ops.put("bob", f"{BASE}/shadow", {"version": 2}).status_code == 200
    assert ops.put("alice", f"{BASE}/shadow", {"version": None}).status_code == 200
    assert ops.approve("alice", 2).status_code == 200
    assert ops.post("bob", f"{BASE}/versions/1/rollback").status_code == 200
    _problem(ops.approve("alice", 2), 409, "strategy-state-conflict")  # refused: not a change
    log = ops.get("admin", f"{BASE}/audit").json()
    assert [(e["action"], e["version"], e["operator"]) for e in log] == [
        ("published", 1, "alice"),
        ("approved", 1, "bob"),
        ("published", 2, "bob"),
        ("shadow_set", 2, "bob"),
        ("shadow_cleared", None, "alice"),
        ("approved", 2, "alice"),
        ("rolled_back", 1, "bob"),
    ]
    assert log[-1]["detail"] == {"previous_live": 2}


def test_the_diff_names_rules_added_removed_and_changed(ops: Desk) -> None:
    assert ops.publish("alice", STRICT).status_code == 201
    changed = version(
        rule("big_amount", f"amount >= {BIG * 2}", "review", 10),
        rule("foreign", 'currency != "TWD"', "review"),
    )
    assert ops.publish("alice", changed).status_code == 201
    diff = ops.get("bob", f"{BASE}/diff", **{"from": 1, "to": 2}).json()
    assert [r["code"] for r in diff["added"]] == ["foreign"]
    assert [r["code"] for r in diff["removed"]] == ["fast_install"]
    assert [(c["code"], c["before"]["outcome"], c["after"]["outcome"]) for c in diff["changed"]] == [
        ("big_amount", "block", "review")
    ]


def test_a_dry_run_refuses_fields_outside_the_catalogue(ops: Desk) -> None:
    assert ops.publish("alice", LENIENT).status_code == 201
    assert ops.approve("bob", 1).status_code == 200
    wrong = ops.post("alice", "/v1/risk/evaluate", {"activation": {"amount": "lots"}})
    assert "activation.amount: a int, not str" in _problem(wrong, 422, "invalid-strategy")["detail"]
    named = ops.post("admin", "/v1/risk/evaluate", {"version": 1, "activation": {"click_to_event_s": 1}})
    assert named.json()["decision"]["reasons"] == ["fast_install"]


def test_concurrent_publishes_get_distinct_version_numbers(ops: Desk, db: Database) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: ops.publish("alice", LENIENT), range(12)))
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers if a.status_code != 201]
    assert sorted(a.json()["version"] for a in answers) == list(range(1, 13))


def test_an_operator_token_is_shown_once_and_stored_as_a_digest(cli: Any, db: Database) -> None:
    done = cli("operators", "create", "rita", "--role", "risk", "--role", "analyst")
    assert done.returncode == 0, done.stderr
    token = json.loads(done.stdout)["token"]
    with db.uow(write=False) as conn:
        row = conn.execute(select(operators)).one()
    assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(tuple(row))
    assert row.roles == "analyst risk"
    refused = cli("operators", "create", "ravi", "--role", "wizard")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: roles:")
    assert len(refused.stderr.strip().splitlines()) == 1
    assert cli("operators", "create", "rita", "--role", "risk").returncode == 1
    assert _rows(db, operators) == 1
