"""``earnloop demo seed`` builds the demo through the real services — wallets, a catalog with a funded
2x zone, a simulated population earning game cashback through signed postbacks, shoppers reported by
signed conversion postbacks — and seeding twice changes nothing."""

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, func, select

from earnloop.affiliate.models import affiliate_clicks, affiliate_conversions
from earnloop.auth.models import users
from earnloop.catalog.validation import valid_tax_id
from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.demo import DEMO_LOGINS, GAMES, MERCHANTS, POPULATION, players, plays, seed
from earnloop.demo_shopping import purchases
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.models import transfers
from earnloop.ledger.service import LedgerService
from earnloop.tracking.models import tracking_clicks, tracking_postbacks
from earnloop.wallet import service
from earnloop.wallet.cashback.models import cashback_entries


def _count(conn: Connection, table: Any, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _counts(db: Database) -> dict[str, int]:
    tables = {
        "transfers": transfers,
        "users": users,
        "cashback": cashback_entries,
        "clicks": tracking_clicks,
        "postbacks": tracking_postbacks,
        "shopping_clicks": affiliate_clicks,
        "conversions": affiliate_conversions,
    }
    with db.uow(write=False) as conn:
        return {name: _count(conn, table) for name, table in tables.items()}


def _settings(tmp_path: Path) -> Settings:
    return Settings(database_url="sqlite://", admin_token_file=str(tmp_path / "admin_token"))


def test_demo_seed_is_idempotent_and_shows_a_real_wallet(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = seed(db, settings)
    after_first = _counts(db)
    second = seed(db, settings)
    ledger = LedgerService(SystemClock())
    with db.uow(write=False) as conn:
        alice_id = conn.execute(select(users.c.id).where(users.c.handle == "alice")).scalar_one()
        alice = service.view(conn, ledger, alice_id, "TWD")
    assert first.splitlines()[1:] == second.splitlines()[1:]
    # it ends with where to go: the app (by host name: passkeys refuse IP addresses) and its logins
    assert first.splitlines()[-3:] == [
        "the app: http://localhost:8000/app — sign in as",
        *(f"  {handle:<6} password {password}" for handle, password in DEMO_LOGINS.items()),
    ]
    assert _counts(db) == after_first
    assert after_first["users"] == 2 + POPULATION
    # alice: welcome credit + a confirmed operator reward − a 1-cent purchase + Dragon Realm level 5 and
    # level 10 (100 + 300, doubled in the 2x zone, confirmed by the sweep); pending: a hotel booking and
    # level 20 (600, doubled), reached on day two.
    assert (alice.available, alice.pending, alice.lifetime_earned) == (
        50_000 + 300 - 1 + 2 * (100 + 300),
        1_250 + 2 * 600,
        300 + 2 * (100 + 300),
    )
    assert (tmp_path / "demo" / "alice.token").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [
        "alice.token",
        "bob.token",
        "charity.token",
        "merchant.token",
    ]


def test_demo_population_earned_through_signed_postbacks(db: Database, tmp_path: Path) -> None:
    seed(db, _settings(tmp_path))
    milestones_reached = sum(len(p.day_one) + len(p.day_two) for p in plays())
    with db.uow(write=False) as conn:
        game = cashback_entries.c.source == "game"
        confirmed = _count(conn, cashback_entries, game, cashback_entries.c.status == "confirmed")
        pending = _count(conn, cashback_entries, game, cashback_entries.c.status == "pending")
        accepted = _count(conn, tracking_postbacks, tracking_postbacks.c.outcome == "accepted")
        earners = conn.execute(
            select(func.count(func.distinct(cashback_entries.c.user_id))).where(game)
        ).scalar_one()
        clicks = _count(conn, tracking_clicks)
    assert accepted == milestones_reached > 100
    assert clicks == len(plays())
    assert confirmed > 50
    assert pending > 20
    assert earners > POPULATION // 2


def test_demo_shoppers_earned_through_signed_conversions(db: Database, tmp_path: Path) -> None:
    seed(db, _settings(tmp_path))
    rates = {m["key"]: m["rates"] for m in MERCHANTS.values()}
    plan = {p.order_id: p for p in purchases(players(1), rates)}
    with db.uow(write=False) as conn:
        orders = {r.order_id: r for r in conn.execute(select(affiliate_conversions))}
        shopping = cashback_entries.c.source == "shopping"
        pending = _count(conn, cashback_entries, shopping, cashback_entries.c.status == "pending")
        reversed_ = _count(conn, cashback_entries, shopping, cashback_entries.c.status == "reversed")
    assert set(orders) == set(plan)
    assert len(plan) > 5
    for order_id, purchase in plan.items():
        assert orders[order_id].order_amount == purchase.refunded_to
        assert orders[order_id].status == {"": "pending", "refund": "approved"}.get(
            purchase.later, purchase.later
        )
    # every reward waits for its merchant's lock period; a reversed order's reward was voided
    assert pending >= sum(p.later != "reversed" for p in plan.values())
    assert reversed_ >= sum(p.later == "reversed" for p in plan.values())


def test_demo_catalog_and_wallet_over_http(api: httpx.Client, db: Database, tmp_path: Path) -> None:
    seed(db, _settings(tmp_path))
    games = api.get("/v1/catalog/games")
    assert games.status_code == 200, games.text
    listed = {g["key"]: g for g in games.json()}
    assert set(listed) == {g["key"] for g in GAMES}
    assert all(len(g["milestones"]) >= 2 for g in listed.values())
    assert {k for k, g in listed.items() if g["two_x_zone"]} == {"dragon-realm", "boba-merge"}

    merchants = api.get("/v1/catalog/merchants")
    assert merchants.status_code == 200, merchants.text
    assert {m["name"] for m in merchants.json()} == set(MERCHANTS)
    assert all(m["rates"] for m in merchants.json())
    assert all(valid_tax_id(t) for m in MERCHANTS.values() for t in m["tax_ids"])

    token = (tmp_path / "demo" / "alice.token").read_text().strip()
    me = {"Authorization": f"Bearer {token}"}
    wallet = api.get("/v1/me/wallets/TWD", headers=me)
    assert wallet.status_code == 200, wallet.text
    assert sorted((i["source"], i["amount"]) for i in wallet.json()["pending_items"]) == [
        ("game", 600),  # Dragon Realm level 20
        ("game", 600),  # its 2x zone bonus
        ("shopping", 1_250),
    ]
    history = api.get("/v1/me/wallets/TWD/history", headers=me)
    assert history.status_code == 200, history.text
    confirmed = [e["amount"] for e in history.json() if e["kind"] == "cashback_confirmed"]
    assert sorted(confirmed) == [100, 100, 300, 300, 300]  # levels 5 and 10, their bonuses, the operator's
