"""The catalog on SQLite and PostgreSQL: merchants with 統一編號, games and milestones, imports of a few
hundred games with per-row errors (nothing imported), pricing with a 2x campaign, caps and budgets,
plus HTTP (admin + public) and the ``earnloop catalog`` commands."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, func, select

from earnloop.auth.service import create_partner, create_user
from earnloop.catalog import importer, pricing, service
from earnloop.catalog.errors import CapReachedError, CatalogConflictError, CatalogError, ImportRejectedError
from earnloop.catalog.models import catalog_games, catalog_merchants, catalog_milestones, catalog_usage_refs
from earnloop.catalog.validation import valid_tax_id
from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService
from earnloop.wallet.chart import AccountKind
from tests.conftest import Cli

NOW = 1_800_000_000 * 10**9
DAY = 86_400 * 10**9


def tax_id(prefix: str) -> str:
    """A valid 統一編號 starting with 7 given digits."""
    return next(prefix + d for d in "0123456789" if valid_tax_id(prefix + d))


def game(i: int, **over: Any) -> dict[str, Any]:
    g = {
        "key": f"game-{i}",
        "title": f"Game {i}",
        "platforms": ["ios", "android"],
        "app_store_id": str(100000 + i),
        "play_package": f"com.example.game{i}",
        "tracking_provider": "appsflyer",
        "tags": ["rpg"],
        "status": "active",
        "currency": "TWD",
        "milestones": [
            {
                "key": "lv10",
                "title": "Reach level 10",
                "goal": "level:10",
                "within_days": 7,
                "reward_amount": 100,
                "per_user_limit": 1,
                "position": 1,
            },
        ],
    }
    g.update(over)
    return g


def count(conn: Connection, table: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_tax_id_checksum() -> None:
    assert valid_tax_id("04595257")
    assert valid_tax_id("12345675")  # 7th digit 7
    assert not valid_tax_id("04595258")
    assert not valid_tax_id("1234567")


def test_merchant_upsert_and_errors(db: Database) -> None:
    with db.uow() as conn:
        partner = create_partner(conn, "Travel Co", "merchant", "TWD").id
        charity = create_partner(conn, "Charity", "charity", "TWD").id
        raw = {
            "key": "travelco",
            "partner_id": partner,
            "name": "Travel Co",
            "category": "travel",
            "tax_ids": ["04595257"],
            "rates": {"travel": 500, "default": 100},
            "lock_period_days": 45,
        }
        m = service.upsert_merchant(conn, raw)
        assert m["rates"] == {"default": 100, "travel": 500}
        assert m["tax_ids"] == ["04595257"]
        assert service.merchant_for_tax_id(conn, "04595257")["key"] == "travelco"  # type: ignore[index]
    for bad, message in [
        ({**raw, "tax_ids": ["04595258"]}, "統一編號"),
        ({**raw, "key": "other", "partner_id": charity}, "not a merchant"),
        ({**raw, "rates": "travel=5"}, "category:basis_points"),
    ]:
        with pytest.raises(CatalogError, match=message), db.uow() as conn:
            service.upsert_merchant(conn, bad)
    with db.uow(write=False) as conn:
        assert service.list_merchants(conn)[0]["tax_ids"] == ["04595257"]
        assert count(conn, catalog_merchants) == 1


def test_import_hundreds_of_games_with_row_errors(db: Database) -> None:
    games = [game(i) for i in range(300)]
    games[10]["platforms"] = ["ios", "switch"]
    games[20]["milestones"][0]["reward_amount"] = 0
    games[30]["key"] = "game-0"
    doc = json.dumps({"games": games})
    with pytest.raises(ImportRejectedError) as info, db.uow() as conn:
        importer.import_catalog(conn, doc, fmt="json")
    rows = [(e.row, e.field) for e in info.value.errors]
    assert rows == [(11, "platforms"), (21, "milestones[0].reward_amount"), (31, "key")]
    with db.uow(write=False) as conn:
        assert count(conn, catalog_games) == 0
    games[10]["platforms"], games[20]["milestones"][0]["reward_amount"], games[30]["key"] = (
        ["ios"],
        5,
        "game-30",
    )
    doc = json.dumps({"games": games})
    with db.uow() as conn:
        report = importer.import_catalog(conn, doc, fmt="json")
    assert report["games_created"] == 300
    assert report["milestones_created"] == 300
    with db.uow() as conn:
        again = importer.import_catalog(conn, doc, fmt="json")
        assert again["games_updated"] == 300
        assert again["games_created"] == 0
        exported = importer.export_csv(conn, "games")
    with db.uow() as conn:  # CSV round trip: same rows, nothing new
        assert importer.import_catalog(conn, exported, fmt="csv")["games_created"] == 0
        assert count(conn, catalog_milestones) == 300
    bad_csv = exported.replace("com.example.game5,", "not a package,", 1)
    with pytest.raises(ImportRejectedError) as info, db.uow() as conn:
        importer.import_catalog(conn, bad_csv, fmt="csv")
    assert [(e.field) for e in info.value.errors] == ["play_package"]


def _priced_setup(conn: Connection, ledger: LedgerService, mode: str, budget: int) -> tuple[int, int, int]:
    user = create_user(conn, "player").id
    g = service.upsert_game(
        conn,
        game(1, milestones=[{"key": "lv10", "title": "Level 10", "reward_amount": 100, "per_user_limit": 5}]),
    )
    c = service.upsert_campaign(
        conn,
        {
            "key": "double",
            "name": "2x zone",
            "multiplier_bps": 20000,
            "starts_at_ns": NOW - DAY,
            "ends_at_ns": NOW + DAY,
            "per_user_cap": 2,
            "budget_total": 1000,
            "budget_mode": mode,
            "games": ["game-1"],
        },
    )
    service.fund_campaign(conn, ledger, c["campaign_id"], budget, "fund-1")
    return user, g["milestones"][0]["milestone_id"], c["campaign_id"]


def test_pricing_2x_cap_and_budget(db: Database, ledger: LedgerService) -> None:
    with db.uow() as conn:
        user, milestone, campaign = _priced_setup(conn, ledger, "pay_partial", 150)
        p = pricing.price_reward(conn, ledger, user_id=user, milestone_id=milestone, at_ns=NOW)
        assert (p.base_amount, p.bonus_amount, p.total, p.two_x_zone) == (100, 100, 200, True)
        assert p.bonuses[0].funding.kind == AccountKind.CAMPAIGN_BUDGET
        assert p.base_funding.kind == AccountKind.OPERATOR_FUNDING
        # outside the schedule: no bonus
        assert (
            pricing.price_reward(
                conn, ledger, user_id=user, milestone_id=milestone, at_ns=NOW + 2 * DAY
            ).total
            == 100
        )
        service.record_use(conn, subject="campaign", subject_id=campaign, user_id=user, ref="r1", amount=100)
        service.record_use(conn, subject="campaign", subject_id=campaign, user_id=user, ref="r1", amount=100)
        assert service.used(conn, "campaign", campaign, user) == 1  # idempotent on ref
        service.record_use(conn, subject="campaign", subject_id=campaign, user_id=user, ref="r2", amount=100)
    with pytest.raises(CapReachedError), db.uow() as conn:
        service.record_use(conn, subject="campaign", subject_id=campaign, user_id=user, ref="r3", amount=100)
    with db.uow() as conn:
        assert count(conn, catalog_usage_refs) == 2
        capped = pricing.price_reward(conn, ledger, user_id=user, milestone_id=milestone, at_ns=NOW)
        assert (capped.bonuses[0].status, capped.total) == ("cap_reached", 100)
        other = create_user(conn, "other").id
        # the other user is under the cap; 150 funded covers a full 100 bonus
        assert (
            pricing.price_reward(conn, ledger, user_id=other, milestone_id=milestone, at_ns=NOW).bonus_amount
            == 100
        )


@pytest.mark.parametrize(
    ("mode", "expected"), [("pay_partial", (40, "partial")), ("all_or_nothing", (0, "budget_exhausted"))]
)
def test_budget_exhaustion(db: Database, ledger: LedgerService, mode: str, expected: tuple[int, str]) -> None:
    with db.uow() as conn:
        user, milestone, campaign = _priced_setup(conn, ledger, mode, 40)
        p = pricing.price_reward(conn, ledger, user_id=user, milestone_id=milestone, at_ns=NOW)
        assert (p.bonuses[0].amount, p.bonuses[0].status) == expected
        assert p.bonuses[0].budget_remaining == 40
    with pytest.raises(CatalogConflictError, match="total budget"), db.uow() as conn:
        service.fund_campaign(conn, ledger, campaign, 961, "fund-2")
    with db.uow(write=False) as conn:
        assert service.get_campaign(conn, campaign, ledger)["budget_remaining"] == 40
        assert service.get_campaign(conn, campaign)["funded"] == 40


def test_http(api: httpx.Client, db: Database) -> None:
    doc = {"games": [game(i) for i in range(3)]}
    assert api.post("/v1/admin/catalog/import?format=json", content=json.dumps(doc)).status_code == 200
    bad = {"games": [game(9, status="gone")]}
    r = api.post("/v1/admin/catalog/import?format=json", content=json.dumps(bad))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [{"row": 1, "field": "status", "message": r.json()["errors"][0]["message"]}]
    c = api.put(
        "/v1/admin/catalog/campaigns",
        json={
            "key": "double",
            "name": "2x",
            "multiplier_bps": 20000,
            "starts_at_ns": 1,
            "ends_at_ns": (1 << 62),
            "budget_total": 500,
            "games": ["game-1"],
        },
    )
    assert c.status_code == 200, c.text
    cid = c.json()["campaign_id"]
    funded = api.post(
        f"/v1/admin/catalog/campaigns/{cid}/fund", json={"amount": 300}, headers={"Idempotency-Key": "f1"}
    )
    assert funded.json()["budget_remaining"] == 300
    public = httpx.get(f"{api.base_url}/v1/catalog/games").json()
    assert [(g["key"], g["two_x_zone"]) for g in public] == [
        ("game-0", False),
        ("game-1", True),
        ("game-2", False),
    ]
    assert "budget_total" not in public[1]["campaigns"][0]
    assert httpx.put(f"{api.base_url}/v1/admin/catalog/games", json=game(5)).status_code == 401
    missing = api.put(
        "/v1/admin/catalog/campaigns",
        json={
            "key": "x",
            "name": "x",
            "fixed_bonus": 5,
            "starts_at_ns": 1,
            "ends_at_ns": 2,
            "budget_total": 5,
            "games": ["nope"],
        },
    )
    assert missing.status_code == 422
    assert "no game" in missing.json()["detail"]
    assert api.get("/v1/admin/catalog/export?format=csv&kind=games").text.count("\n") == 4


def test_cli(cli: Cli, tmp_path: Any) -> None:
    path = tmp_path / "games.json"
    path.write_text(json.dumps({"games": [game(i) for i in range(5)]}))
    done = cli("catalog", "import", str(path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["games_created"] == 5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"games": [game(1), game(2, title="")]}))
    rejected = cli("catalog", "import", str(bad))
    assert rejected.returncode == 1
    assert "row 2 title: is required" in rejected.stderr
    assert len(cli("catalog", "games").stdout.strip().splitlines()) == 5
    exported = cli("catalog", "export", "--kind", "games", "--format", "csv")
    assert exported.returncode == 0
    assert exported.stdout.startswith("key,title")
    assert cli("catalog", "campaigns").returncode == 0


def test_game_lock_period_over_http_csv_and_json(api: httpx.Client, db: Database) -> None:
    put = api.put("/v1/admin/catalog/games", json=game(1, lock_period_days=14))
    assert (put.status_code, put.json()["lock_period_days"]) == (200, 14), put.text
    assert api.put("/v1/admin/catalog/games", json=game(2)).json()["lock_period_days"] == 0  # default
    for bad in (366, -1, "a week"):
        r = api.put("/v1/admin/catalog/games", json=game(3, lock_period_days=bad))
        assert (r.status_code, r.headers["content-type"]) == (422, "application/problem+json"), bad
        assert "lock_period_days" in r.json()["detail"], bad
    public = httpx.get(f"{api.base_url}/v1/catalog/games").json()
    assert [(g["key"], g["lock_period_days"]) for g in public] == [("game-1", 14), ("game-2", 0)]

    csv_text = api.get("/v1/admin/catalog/export?format=csv&kind=games").text
    assert "lock_period_days" in csv_text.splitlines()[0]
    as_json = api.get("/v1/admin/catalog/export?format=json&kind=games").json()
    assert [g["lock_period_days"] for g in as_json["games"]] == [14, 0]
    # Round trips: CSV changes one lock period, JSON another; a bad row rejects the whole file.
    edited = csv_text.replace(",14,", ",30,", 1)
    assert api.post("/v1/admin/catalog/import?format=csv", content=edited).json()["games_updated"] == 2
    with db.uow(write=False) as conn:
        assert [g["lock_period_days"] for g in service.list_games(conn)] == [30, 0]
    as_json["games"][1]["lock_period_days"] = 7
    assert api.post("/v1/admin/catalog/import?format=json", content=json.dumps(as_json)).status_code == 200
    as_json["games"][0]["lock_period_days"] = 400
    rejected = api.post("/v1/admin/catalog/import?format=json", content=json.dumps(as_json))
    assert rejected.status_code == 422
    assert [(e["row"], e["field"]) for e in rejected.json()["errors"]] == [(1, "lock_period_days")]
    with db.uow(write=False) as conn:
        assert [g["lock_period_days"] for g in service.list_games(conn)] == [14, 7]
