"""Allow and block lists over real HTTP and the real ``earnloop`` command, on SQLite and PostgreSQL:
values are normalised, expired and removed entries never match, bad input changes nothing, and
:class:`ListFeatures` gives every rule field from one query."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from earnloop.db.engine import Database
from earnloop.risk import lists
from earnloop.risk.events import ENTITY_KEYS, RiskEvent
from tests.conftest import Cli, DbTarget
from tests.integration.risk.world import RiskApp, fingerprint, risk_app
from tests.integration.sql_budget import statements

HOUR_NS = 3_600 * 1_000_000_000


@pytest.fixture
def app(db: Database, db_target: DbTarget, tmp_path: Path) -> Iterator[RiskApp]:
    yield from risk_app(db, db_target, tmp_path / "feed.pem")


def _lookup(http: httpx.Client, key: str, value: str) -> dict[str, object]:
    found = http.get("/v1/risk/lists/lookup", params={"key": key, "value": value})
    assert found.status_code == 200, found.text
    body: dict[str, object] = found.json()
    return body


def test_entries_are_added_looked_up_and_removed_over_http_with_normalised_values(app: RiskApp) -> None:
    http = app.admin
    added = http.post(
        "/v1/risk/lists/block/entries",
        json={"key": "phone", "value": "0912-345-678", "reason": "phishing calls", "expires_in_s": 86_400},
    )
    assert added.status_code == 201, added.text
    assert added.json()["value"] == "+886912345678"
    assert added.json()["added_by"] == "api:admin"
    assert added.json()["source"] == "manual"
    http.post(
        "/v1/risk/lists/allow/entries", json={"key": "ip24", "value": "203.0.113.77", "reason": "office"}
    )
    http.post("/v1/risk/lists/block/entries", json={"key": "device", "value": " GAID-ABC ", "reason": "farm"})

    assert _lookup(http, "phone", "+886 912 345 678")["blocklisted"] is True
    assert _lookup(http, "ip24", "203.0.113.0/24")["allowlisted"] is True
    assert _lookup(http, "ip24", "203.0.113.5")["value"] == "203.0.113.0/24"
    assert _lookup(http, "device", "gaid-abc")["blocklisted"] is True
    assert _lookup(http, "device", "gaid-abd")["blocklisted"] is False

    removed = http.delete("/v1/risk/lists/block/entries", params={"key": "device", "value": "Gaid-Abc"})
    assert removed.status_code == 200
    assert removed.json()["removed_at"] is not None
    assert _lookup(http, "device", "gaid-abc")["blocklisted"] is False
    page = http.get("/v1/risk/lists/block/entries").json()
    assert [e["key"] for e in page] == ["phone"]
    everything = http.get("/v1/risk/lists/block/entries", params={"include_inactive": True}).json()
    assert [e["key"] for e in everything] == ["phone", "device"]
    again = http.delete("/v1/risk/lists/block/entries", params={"key": "device", "value": "gaid-abc"})
    assert again.status_code == 404


def test_adding_the_same_entry_twice_keeps_one_entry_with_the_new_reason(app: RiskApp) -> None:
    body = {"key": "card", "value": "fp_1", "reason": "chargeback"}
    first = app.admin.post("/v1/risk/lists/block/entries", json=body).json()
    second = app.admin.post(
        "/v1/risk/lists/block/entries", json={**body, "reason": "second chargeback"}
    ).json()
    assert second["entry_id"] == first["entry_id"]
    assert second["reason"] == "second chargeback"
    assert len(app.admin.get("/v1/risk/lists/block/entries").json()) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"key": "phone", "value": "12", "reason": "x"},
        {"key": "ip24", "value": "2001:db8::1", "reason": "x"},
        {"key": "ip", "value": "999.1.1.1", "reason": "x"},
        {"key": "user", "value": "abc", "reason": "x"},
        {"key": "planet", "value": "mars", "reason": "x"},
        {"key": "device", "value": "d", "reason": "   "},
        {"key": "device", "value": "d", "reason": "x", "source": "feed:acme"},
    ],
)
def test_bad_entries_are_refused_as_problems_and_change_nothing(
    app: RiskApp, db: Database, body: dict[str, str]
) -> None:
    before = fingerprint(db)
    refused = app.admin.post("/v1/risk/lists/block/entries", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert fingerprint(db) == before


def test_lists_need_the_admin_token(app: RiskApp) -> None:
    _, token = app.new_user("lister")
    with app.as_user(token) as user:
        assert user.get("/v1/risk/lists/block/entries").status_code == 401
        denied = user.post(
            "/v1/risk/lists/block/entries", json={"key": "device", "value": "d", "reason": "x"}
        )
        assert denied.status_code == 401


def test_expired_and_removed_entries_never_match_but_did_while_they_were_active(db: Database) -> None:
    now = time.time_ns()
    with db.uow() as conn:
        expired = lists.NewEntry("block", "device", "old-farm", "farm", expires_at_ns=now - HOUR_NS)
        lists.add(conn, expired, added_by="test", now_ns=now - 2 * HOUR_NS)
        lists.add(
            conn,
            lists.NewEntry("block", "payee", "mule-1", "mule"),
            added_by="test",
            now_ns=now - 2 * HOUR_NS,
        )
        lists.remove(
            conn, list_name="block", key="payee", value="mule-1", removed_by="test", now_ns=now - HOUR_NS
        )
    features = lists.ListFeatures()
    keys = {"device": "OLD-FARM", "payee": "mule-1"}
    with db.uow(write=False) as conn:
        today = features.read(conn, RiskEvent("payment", "now", now, keys=keys))
        back_then = features.read(
            conn, RiskEvent("payment", "then", now - 90 * 60 * 1_000_000_000, keys=keys)
        )
        assert lists.lookup(conn, "device", "old-farm")[1] == []
    assert today["blocklisted_device"] is False
    assert today["blocklisted_payee"] is False
    assert back_then["blocklisted_device"] is True
    assert back_then["blocklisted_payee"] is True


def test_list_features_give_every_field_from_one_query(db: Database) -> None:
    features = lists.ListFeatures()
    assert set(features.fields) == {f"{p}_{k}" for k in ENTITY_KEYS for p in ("blocklisted", "allowlisted")}
    assert set(features.fields.values()) == {bool}
    with db.uow() as conn:
        lists.add(conn, lists.NewEntry("block", "ip24", "198.51.100.9", "proxy farm"), added_by="test")
        lists.add(conn, lists.NewEntry("allow", "user", "42", "staff"), added_by="test")
        lists.add(conn, lists.NewEntry("block", "phone", "+886912345678", "scam"), added_by="test")
    event = RiskEvent(
        "withdrawal",
        "w-1",
        time.time_ns(),
        keys={"user": "42", "ip24": "198.51.100.0/24", "device": "d-1", "phone": "0912345678", "card": ""},
    )
    with db.uow(write=False) as conn, statements(db) as sent:
        values = features.read(conn, event)
    assert len(sent) == 1
    assert {name for name, on in values.items() if on} == {
        "blocklisted_ip24",
        "allowlisted_user",
        "blocklisted_phone",
    }
    assert set(values) == set(features.fields)
    with db.uow(write=False) as conn, statements(db) as sent:
        assert not any(features.read(conn, RiskEvent("click", "c-1", time.time_ns())).values())
    assert sent == []


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_cli_adds_shows_looks_up_and_removes_entries(cli: Cli, db: Database) -> None:
    added = cli(
        "risk", "list", "add", "block", "device", "XYZ", "--reason", "device farm", "--expires", "30d"
    )
    assert added.returncode == 0, added.stderr
    entry = _json_lines(added.stdout)[0]
    assert entry["value"] == "xyz"
    assert str(entry["added_by"]).startswith("cli:")
    assert isinstance(entry["expires_at_ns"], int)
    assert entry["expires_at_ns"] > time.time_ns() + 29 * 86_400 * 10**9
    cli("risk", "list", "add", "allow", "ip", "192.0.2.1", "--reason", "office")
    shown = _json_lines(cli("risk", "list", "show", "block").stdout)
    assert [(e["key"], e["value"]) for e in shown] == [("device", "xyz")]
    looked = _json_lines(cli("risk", "list", "lookup", "device", "Xyz").stdout)[0]
    assert looked["blocklisted"] is True
    assert looked["allowlisted"] is False
    removed = cli("risk", "list", "remove", "block", "device", "xyz")
    assert removed.returncode == 0, removed.stderr
    assert _json_lines(cli("risk", "list", "lookup", "device", "xyz").stdout)[0]["blocklisted"] is False


@pytest.mark.parametrize(
    "args",
    [
        ("risk", "list", "add", "block", "phone", "12", "--reason", "x"),
        ("risk", "list", "add", "grey", "device", "d", "--reason", "x"),
        ("risk", "list", "add", "block", "device", "d", "--reason", "x", "--expires", "soon"),
        ("risk", "list", "add", "block", "device", "d", "--reason", "x", "--expires", "2001-01-01T00:00:00Z"),
        ("risk", "list", "remove", "block", "device", "never-added"),
    ],
)
def test_cli_bad_input_is_one_line_and_changes_nothing(cli: Cli, db: Database, args: tuple[str, ...]) -> None:
    before = fingerprint(db)
    done = cli(*args)
    assert done.returncode == 1
    assert done.stderr.startswith("error: "), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert fingerprint(db) == before
