"""Helpers of the game tracking tests: a catalog world (a game with three milestones and a funded 2x
campaign), clicks over HTTP, signed earnloop postbacks and the user's money as the wallet shows it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import Connection, func, select

from earnloop.auth.service import create_partner, create_user
from earnloop.catalog import service as catalog
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.wallet import service as wallet
from earnloop.wallet.cashback.models import cashback_entries
from tests.integration.signed_post import post_signed

SECRET = "earnloop-test-secret-0123456789"
DAY_S = 86_400
DAY_NS = DAY_S * 10**9


@dataclass(frozen=True)
class World:
    user_id: int
    token: str
    game_id: int
    campaign_id: int
    publisher_id: int  # the game's publisher, whose secret signs its earnloop postbacks


def make_world(
    db: Database,
    ledger: LedgerService,
    clock: ManualClock,
    *,
    lock_period_days: int = 0,
    budget_mode: str = "pay_partial",
    funded: int = 5_000,
) -> World:
    """The player, the game ``dragon`` (lv5 100, lv10 300, lv20 500) of the publisher ``dragon-studio``
    and the 2x campaign ``double``."""
    now = clock.now_ns()
    with db.uow() as conn:
        user = create_user(conn, "player")
        publisher = create_partner(conn, "dragon-studio", "game_publisher", "TWD")
        g = catalog.upsert_game(
            conn,
            {
                "key": "dragon",
                "title": "Dragon Quest-ish",
                "platforms": ["ios", "android"],
                "app_store_id": "123456789",
                "play_package": "com.example.dragon",
                "tracking_provider": "earnloop",
                "tags": ["rpg"],
                "status": "active",
                "currency": "TWD",
                "publisher_id": publisher.id,
                "lock_period_days": lock_period_days,
                "milestones": [
                    {"key": "lv5", "title": "Level 5", "within_days": 7, "reward_amount": 100, "position": 1},
                    {
                        "key": "lv10",
                        "title": "Level 10",
                        "within_days": 7,
                        "reward_amount": 300,
                        "position": 2,
                    },
                    {
                        "key": "lv20",
                        "title": "Level 20",
                        "within_days": 30,
                        "reward_amount": 500,
                        "position": 3,
                    },
                ],
            },
        )
        c = catalog.upsert_campaign(
            conn,
            {
                "key": "double",
                "name": "2x zone",
                "multiplier_bps": 20000,
                "starts_at_ns": now - DAY_NS,
                "ends_at_ns": now + 60 * DAY_NS,
                "budget_total": 10_000,
                "budget_mode": budget_mode,
                "games": ["dragon"],
            },
        )
        catalog.fund_campaign(conn, ledger, c["campaign_id"], funded, "fund-double")
    return World(user.id, user.secret, g["game_id"], c["campaign_id"], publisher.id)


def register_secret(
    api: httpx.Client, provider: str = "earnloop", secret: str = SECRET, *, publisher_id: int | None = None
) -> None:
    """A provider's secret; for ``earnloop``, the secret of the game publisher ``publisher_id``."""
    if provider == "earnloop":
        assert publisher_id is not None, "earnloop secrets belong to a game publisher"
        path = f"/v1/admin/tracking/partners/{publisher_id}/secrets"
    else:
        path = f"/v1/admin/tracking/providers/{provider}/secrets"
    r = api.put(path, json={"secret": secret})
    assert r.status_code == 200, r.text
    assert secret not in r.text


def click(
    api: httpx.Client,
    w: World,
    user_agent: str = "Mozilla/5.0 (Linux; Android 14)",
    *,
    token: str | None = None,
) -> str:
    """The user's click (``token``: another user than the world's) → the click id from the redirect."""
    r = api.get(
        f"/go/{w.game_id}",
        headers={"Authorization": f"Bearer {token or w.token}", "User-Agent": user_agent},
        follow_redirects=False,
    )
    assert r.status_code == 302, r.text
    location = urlsplit(r.headers["location"])
    assert (location.scheme, location.netloc) == ("https", "play.google.com")
    query = parse_qs(location.query)
    assert query["id"] == ["com.example.dragon"]
    (referrer,) = query["referrer"]
    return parse_qs(referrer)["click_id"][0]


def postback(
    api: httpx.Client,
    clock: ManualClock,
    fields: dict[str, Any] | bytes,
    *,
    secret: str = SECRET,
    t: int | None = None,
    sent_body: bytes | None = None,
) -> httpx.Response:
    return post_signed(api, clock, "/postbacks/earnloop", fields, secret=secret, t=t, sent_body=sent_body)


def event(txn: str, click_id: str, key: str, amount: str = "999999") -> dict[str, Any]:
    return {"transaction_id": txn, "click_id": click_id, "event": key, "amount": amount}


def count(conn: Connection, table: Any, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def money(db: Database, ledger: LedgerService, user_id: int) -> tuple[int, int, int]:
    """(cashback rows, pending, available) — (0, 0, 0) before the wallet exists."""
    with db.uow(write=False) as conn:
        rows = count(conn, cashback_entries)
        exists = count(conn, cashback_entries, cashback_entries.c.user_id == user_id) > 0
        if not exists:
            return rows, 0, 0
        view = wallet.view(conn, ledger, user_id, "TWD")
        return rows, view.pending, view.available


def wallet_of(api: httpx.Client, token: str) -> dict[str, Any]:
    """The user's TWD wallet as the user sees it over HTTP (available, pending, held, debt…)."""
    r = api.get("/v1/me/wallets/TWD", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return dict(r.json())


def reversal(txn: str, click_id: str, reverses: str | None, key: str = "lv5") -> dict[str, Any]:
    """An earnloop reversal postback of ``reverses`` (a negative amount, as providers send them)."""
    fields = {**event(txn, click_id, key, "-100"), "reversal": True}
    return fields if reverses is None else {**fields, "reverses_transaction_id": reverses}
