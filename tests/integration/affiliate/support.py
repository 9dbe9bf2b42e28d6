"""The shopping set-up the affiliate tests share: a merchant (5% cashback, 7-day lock) with a signed
postback secret, a funded 2x campaign on it, a user; and helpers to click, post signed updates, read
the wallet over HTTP and spend from it."""

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
from tests.integration.signed_post import post_signed

SECRET = "affiliate-test-secret-0123456789"
DAY_S = 86_400
DAY_NS = DAY_S * 10**9
LOCK_DAYS = 7
TEMPLATE = "https://partner.example/track?aff=earnloop&sub={click_id}"
EVENT_TIME = "2026-12-04T10:00:00Z"


@dataclass(frozen=True)
class World:
    user_id: int
    token: str
    merchant_id: int
    partner_key: str
    campaign_id: int
    other_merchant_id: int


def make_world(db: Database, ledger: LedgerService, clock: ManualClock, *, funded: int = 50_000) -> World:
    now = clock.now_ns()
    with db.uow() as conn:
        user = create_user(conn, "shopper")
        partner = create_partner(conn, "gadget-partner", "merchant", "TWD")
        other = create_partner(conn, "other-partner", "merchant", "TWD")
        merchant = catalog.upsert_merchant(
            conn,
            {
                "key": "gadgets",
                "partner_id": partner.id,
                "name": "Gadgets",
                "category": "electronics",
                "tracking_template": TEMPLATE,
                "rates": {"default": 500, "books": 1000},
                "lock_period_days": LOCK_DAYS,
            },
        )
        other_merchant = catalog.upsert_merchant(
            conn,
            {
                "key": "others",
                "partner_id": other.id,
                "name": "Others",
                "category": "fashion",
                "tracking_template": "https://other.example/?c={click_id}",
                "rates": {"default": 500},
            },
        )
        campaign = catalog.upsert_campaign(
            conn,
            {
                "key": "double-gadgets",
                "name": "2x on gadgets",
                "multiplier_bps": 20000,
                "starts_at_ns": now - DAY_NS,
                "ends_at_ns": now + 60 * DAY_NS,
                "budget_total": 100_000,
                "merchants": ["gadgets"],
            },
        )
        catalog.fund_campaign(conn, ledger, campaign["campaign_id"], funded, "fund-double-gadgets")
    return World(
        user.id,
        user.secret,
        merchant["merchant_id"],
        partner.secret,
        campaign["campaign_id"],
        other_merchant["merchant_id"],
    )


def register_secret(api: httpx.Client, merchant_id: int, secret: str = SECRET) -> None:
    r = api.put(f"/v1/admin/affiliate/merchants/{merchant_id}/secrets", json={"secret": secret})
    assert r.status_code == 200, r.text
    assert secret not in r.text


def click(api: httpx.Client, w: World, merchant_id: int | None = None) -> str:
    """A user's click: 302 to the merchant's template, the click id in its ``sub`` parameter."""
    r = api.get(
        f"/go/shop/{merchant_id or w.merchant_id}",
        headers={"Authorization": f"Bearer {w.token}", "User-Agent": "Mozilla/5.0 (Linux; Android 14)"},
        follow_redirects=False,
    )
    assert r.status_code == 302, r.text
    location = urlsplit(r.headers["location"])
    if merchant_id is None:
        assert (location.scheme, location.netloc, location.path) == ("https", "partner.example", "/track")
        query = parse_qs(location.query)
        assert query["aff"] == ["earnloop"]
        return query["sub"][0]
    return parse_qs(location.query)["c"][0]


def update(order_id: str, click_id: str, status: str, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "click_id": click_id,
        "status": status,
        "order_amount": amount,
        "currency": "TWD",
        "event_time": EVENT_TIME,
        **extra,
    }


def postback(
    api: httpx.Client,
    clock: ManualClock,
    merchant_id: int,
    fields: dict[str, Any] | bytes,
    *,
    secret: str = SECRET,
    t: int | None = None,
    sent_body: bytes | None = None,
) -> httpx.Response:
    return post_signed(
        api, clock, f"/affiliate/postbacks/{merchant_id}", fields, secret=secret, t=t, sent_body=sent_body
    )


def wallet(api: httpx.Client, w: World) -> dict[str, Any]:
    """The user's TWD wallet over HTTP (opened on first use)."""
    r = api.post("/v1/me/wallets/TWD", headers={"Authorization": f"Bearer {w.token}"})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def money(api: httpx.Client, w: World) -> tuple[int, int, int]:
    """(pending, available, debt) of the user's wallet."""
    view = wallet(api, w)
    return view["pending"], view["available"], view["debt"]


def spend(api: httpx.Client, w: World, amount: int, order_id: str) -> None:
    """The user pays a merchant order from the wallet (merchant API key → order; user confirms)."""
    order = api.post(
        "/v1/merchant/orders",
        json={"order_id": order_id, "amount": amount, "currency": "TWD"},
        headers={"X-Api-Key": w.partner_key},
    )
    assert order.status_code == 200, order.text
    paid = api.post(
        f"/v1/me/orders/{order.json()['order_id']}/confirm",
        headers={"Authorization": f"Bearer {w.token}", "Idempotency-Key": f"pay-{order_id}"},
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["state"] == "paid"


def conversions(api: httpx.Client, w: World) -> list[dict[str, Any]]:
    r = api.get("/v1/affiliate/conversions", headers={"Authorization": f"Bearer {w.token}"})
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()
    return data


def count(conn: Connection, table: Any, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())
