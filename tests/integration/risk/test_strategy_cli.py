"""``earnloop risk strategy …`` as a real subprocess on SQLite and PostgreSQL: the operator comes from
``EARNLOOP_OPERATOR_TOKEN``; a refusal is one line on stderr naming what is wrong (the rule and its
position, the failing examples, the four-eyes rule), exit 1, and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from earnloop.db.engine import Database
from tests.conftest import Cli
from tests.integration.risk.support import BIG, LENIENT, STRICT, example, operators, rule, version


def _file(tmp_path: Path, document: dict[str, Any], name: str = "default") -> str:
    path = tmp_path / f"strategy-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps({"name": name, **document}), encoding="utf-8")
    return str(path)


@pytest.fixture
def tokens(db: Database) -> dict[str, dict[str, str]]:
    return {who: {"EARNLOOP_OPERATOR_TOKEN": token} for who, token in operators(db).items()}


def _refused(done: Any, *says: str) -> None:
    assert done.returncode == 1, done.stdout
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for each in says:
        assert each in lines[0]


def test_publish_approve_rollback_and_read_from_the_command_line(
    cli: Cli, tokens: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    alice, bob = tokens["alice"], tokens["bob"]
    published = cli("risk", "strategy", "publish", _file(tmp_path, LENIENT), **alice)
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["label"] == "default-1"
    _refused(
        cli("risk", "strategy", "approve", "default", "1", **alice), "published by alice", "another operator"
    )
    assert json.loads(cli("risk", "strategy", "approve", "default", "1", **bob).stdout)["status"] == "live"
    assert cli("risk", "strategy", "publish", _file(tmp_path, STRICT), **bob).returncode == 0
    assert cli("risk", "strategy", "approve", "default", "2", **alice).returncode == 0
    rolled = cli("risk", "strategy", "rollback", "default", "1", **alice)
    assert json.loads(rolled.stdout)["status"] == "live", rolled.stderr
    listed = json.loads(cli("risk", "strategy", "list", "default").stdout)
    assert [(v["version"], v["status"]) for v in listed] == [(2, "retired"), (1, "live")]
    shown = json.loads(cli("risk", "strategy", "show", "default", "2").stdout)
    assert [r["code"] for r in shown["rules"]] == ["fast_install", "big_amount"]
    diff = json.loads(cli("risk", "strategy", "diff", "default", "1", "2").stdout)
    assert [r["code"] for r in diff["added"]] == ["big_amount"]
    shadowed = json.loads(cli("risk", "strategy", "shadow", "default", "2", **bob).stdout)
    assert (shadowed["live_version"], shadowed["shadow_version"]) == (1, 2)
    audit = json.loads(cli("risk", "strategy", "audit", "default").stdout)
    assert [(e["action"], e["operator"]) for e in audit] == [
        ("published", "alice"),
        ("approved", "bob"),
        ("published", "bob"),
        ("approved", "alice"),
        ("rolled_back", "alice"),
        ("shadow_set", "bob"),
    ]


def test_a_bad_rule_is_one_line_naming_the_rule_and_position(
    cli: Cli, tokens: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    document = version(rule("ok", "amount > 1"), rule("typo", "amount >> 2"))
    _refused(
        cli("risk", "strategy", "publish", _file(tmp_path, document), **tokens["alice"]), "rule 'typo' at 1:"
    )
    assert cli("risk", "strategy", "list").stdout.strip() == "[]"


def test_a_failing_pack_lists_its_examples_and_stores_nothing(
    cli: Cli, tokens: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    pack = [example("big amount", "allow", amount=BIG, click_to_event_s=60)]
    first = cli(
        "risk", "strategy", "publish", _file(tmp_path, dict(LENIENT, test_pack=pack)), **tokens["alice"]
    )
    assert first.returncode == 0, first.stderr
    _refused(
        cli("risk", "strategy", "publish", _file(tmp_path, STRICT), **tokens["alice"]),
        "carried over from version 1",
        "#0 'big amount': expected allow, got block (big_amount)",
    )
    assert len(json.loads(cli("risk", "strategy", "list", "default").stdout)) == 1


def test_changes_need_an_operators_token(cli: Cli, tokens: dict[str, dict[str, str]], tmp_path: Path) -> None:
    path = _file(tmp_path, LENIENT)
    _refused(cli("risk", "strategy", "publish", path), "EARNLOOP_OPERATOR_TOKEN")
    _refused(cli("risk", "strategy", "publish", path, EARNLOOP_OPERATOR_TOKEN="op_forged"), "not an operator")
    _refused(cli("risk", "strategy", "publish", path, **tokens["vera"]), "does not have the risk role")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"name": "default", "rules": [}', encoding="utf-8")
    _refused(cli("risk", "strategy", "publish", str(bad_json), **tokens["alice"]), "not a JSON document")
    unknown = _file(tmp_path, {**LENIENT, "colour": "red"})
    _refused(cli("risk", "strategy", "publish", unknown, **tokens["alice"]), "colour")
    assert cli("risk", "strategy", "list").stdout.strip() == "[]"
