"""The population the authorization matrix runs against: a live server on its own database (SQLite or
PostgreSQL), eight principals and resources owned by the first user and the first merchant, all made
through the real HTTP API (the admin token for what only operators can do)."""

from __future__ import annotations

import itertools
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text

from earnloop.db.engine import Database, make_database
from earnloop.db.migrate import upgrade
from earnloop.ledger.clock import ManualClock
from earnloop.outbox.models import outbox_events
from tests.conftest import ADMIN_TOKEN, PG_URL, require_service
from tests.live_server import client, serve

ANON, USER, OTHER_USER = "anonymous", "user", "other_user"
MERCHANT, OTHER_MERCHANT = "merchant", "other_merchant"
CHARITY, PUBLISHER, ADMIN = "charity", "game_publisher", "admin"
RISK = "risk_operator"  # an operator with the risk role
PRINCIPALS = (ANON, USER, OTHER_USER, MERCHANT, OTHER_MERCHANT, CHARITY, PUBLISHER, ADMIN, RISK)
STRATEGY = "matrix"

CURRENCY = "TWD"
FUNDS = 100_000
DAY_NS = 86_400 * 10**9
BARCODE, CARRIER_CODE = "/AB12+.-", "code-1234"
AFFILIATE_SECRET = "affiliate-matrix-secret-0123456789"
TRACKING_SECRET = "tracking-matrix-secret-0123456789"


@dataclass
class World:
    """A running server, the principals' secrets and the ids of the resources the matrix names."""

    http: httpx.Client
    db: Database
    secrets: dict[str, str | None] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)
    _keys: Iterator[int] = field(default_factory=itertools.count)

    def headers(self, principal: str) -> dict[str, str]:
        """Each principal's secret in both places a credential is read: a user token or the admin token
        sent as an API key (or a partner key as a bearer token) must not authenticate either."""
        headers = {"Idempotency-Key": f"authz-{next(self._keys)}"}
        secret = self.secrets[principal]
        if secret is not None:
            headers |= {"Authorization": f"Bearer {secret}", "X-Api-Key": secret}
        return headers

    def call(self, principal: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, url, headers=self.headers(principal), **kwargs)

    def ok(self, principal: str, method: str, url: str, **kwargs: Any) -> Any:
        """A set-up step that must succeed; its JSON answer."""
        response = self.call(principal, method, url, **kwargs)
        assert response.status_code < 300, f"{method} {url}: {response.status_code} {response.text}"
        return response.json() if response.content else None


# -- databases --------------------------------------------------------------------------------------
@contextmanager
def sqlite_database(folder: Path) -> Iterator[Database]:
    db = make_database(f"sqlite:///{folder / 'authz.db'}", pool_size=4)
    upgrade(db)
    try:
        yield db
    finally:
        db.dispose()


@contextmanager
def postgres_database() -> Iterator[Database]:
    """A schema of its own, dropped at the end (the shared test schema is emptied per test)."""
    schema = f"authz_{uuid.uuid4().hex[:10]}"
    admin = make_database(PG_URL, pool_size=1)
    try:
        with admin.uow() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any connection failure means "not reachable"
        admin.dispose()
        require_service("PostgreSQL", exc)
    db = make_database(PG_URL, search_path=schema, pool_size=4)
    try:
        upgrade(db)
        yield db
    finally:
        db.dispose()
        with admin.uow() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def live_world(db: Database) -> Iterator[World]:
    """The app over real HTTP on ``db``, seeded."""
    from earnloop.api.app import create_app
    from earnloop.config import Settings
    from earnloop.risk.feed_signing import generate_key_file

    clock = ManualClock()
    with tempfile.TemporaryDirectory(prefix="authz-feed-") as keys:
        feed_key_file = str(Path(keys) / "feed.pem")
        generate_key_file(feed_key_file)  # so that an operator's feed export succeeds
        settings = Settings(
            database_url=str(db.engine.url), admin_token=ADMIN_TOKEN, risk_feed_signing_key_file=feed_key_file
        )
        app = create_app(settings, db=db, clock=clock)
        with serve(app) as base_url, client(base_url) as http:
            world = World(http, db)
            seed(world, clock.now_ns())
            yield world


# -- seeding ----------------------------------------------------------------------------------------
def seed(w: World, now_ns: int) -> None:
    _principals(w)
    _payments(w)
    _escrow_and_holds(w)
    _withdrawals(w)
    _webhooks(w)
    _carrier(w)
    _catalog(w, now_ns)
    _charity(w, now_ns)
    _strategy(w)
    w.ok(ADMIN, "POST", "/v1/ledger/accounts", json={"accounts": [{"id": "9000", "ledger": 1, "code": 1}]})
    w.ids |= {"account_id": "9000", "currency": CURRENCY, "provider": "tapjoy", "product": "sedan"}


def _principals(w: World) -> None:
    w.secrets |= {ANON: None, ADMIN: ADMIN_TOKEN}
    for principal, handle in ((USER, "alice"), (OTHER_USER, "bob")):
        created = w.ok(ADMIN, "POST", "/v1/users", json={"handle": handle})
        w.secrets[principal] = created["token"]
        w.ids[f"{principal}_id"] = created["user_id"]
        w.ok(principal, "POST", f"/v1/me/wallets/{CURRENCY}")
    partners = (
        (MERCHANT, "bike-shop", "merchant"),
        (OTHER_MERCHANT, "other-shop", "merchant"),
        (CHARITY, "good-cause", "charity"),
        (PUBLISHER, "dragon-games", "game_publisher"),
    )
    for principal, name, kind in partners:
        body = {"name": name, "kind": kind, "settlement_currency": CURRENCY}
        created = w.ok(ADMIN, "POST", "/v1/partners", json=body)
        w.secrets[principal] = created["api_key"]
        w.ids[f"{principal}_id"] = created["partner_id"]
    adjustment = {"amount": FUNDS, "direction": "credit", "reason": "matrix funds"}
    w.ok(ADMIN, "POST", f"/v1/admin/users/{w.ids['user_id']}/wallets/{CURRENCY}/adjustments", json=adjustment)
    w.ids["merchant_id"] = w.ids[f"{MERCHANT}_id"]
    w.ids["user_id"] = w.ids[f"{USER}_id"]
    w.ids["charity_id"] = w.ids[f"{CHARITY}_id"]


def _payments(w: World) -> None:
    """A webhook endpoint first (so the payment's event has somewhere to go), then an order the user
    paid."""
    w.ok(MERCHANT, "PUT", "/v1/partner/webhook-endpoint", json={"url": "https://bike-shop.example/hooks"})
    order = w.ok(MERCHANT, "POST", "/v1/merchant/orders", json={"order_id": "ord-1", "amount": 500})
    w.ok(USER, "POST", f"/v1/me/orders/{order['order_id']}/confirm")
    w.ids |= {"order_id": order["order_id"], "merchant_order_id": "ord-1"}


def _escrow_and_holds(w: World) -> None:
    trade = {"trade_ref": "trade-1", "amount": 700, "currency": CURRENCY}
    trade_id = w.ok(MERCHANT, "POST", "/v1/partner/escrow/trades", json=trade)["trade_id"]
    w.ok(USER, "POST", f"/v1/me/escrow/trades/{trade_id}/pay")
    policy = {"partner_id": w.ids["merchant_id"], "amount": 300}
    w.ok(ADMIN, "PUT", f"/v1/admin/deposit-policies/sedan/{CURRENCY}", json=policy)
    hold = {"product": "sedan", "user_id": w.ids["user_id"], "currency": CURRENCY, "ref": "rental-1"}
    mandate = {
        "partner_id": w.ids["merchant_id"],
        "currency": CURRENCY,
        "total_limit": 300,
        "expires_in_s": 86_400,
    }
    w.ids |= {
        "trade_id": trade_id,
        "hold_id": w.ok(MERCHANT, "POST", "/v1/partner/holds", json=hold)["hold_id"],
        "mandate_id": w.ok(USER, "POST", "/v1/me/mandates", json=mandate)["mandate_id"],
    }


def _withdrawals(w: World) -> None:
    """Two destinations (one for the route that removes one) and a withdrawal."""
    for name in ("destination_id", "spare_destination_id"):
        destination = {
            "kind": "bank",
            "institution": "bank",
            "holder_name": "Alice",
            "account_number": "12345678",
        }
        w.ids[name] = w.ok(USER, "POST", "/v1/me/payout-destinations", json=destination)["destination_id"]
    withdrawal = {"destination_id": w.ids["destination_id"], "currency": CURRENCY, "amount": 100}
    w.ids["withdrawal_id"] = w.ok(USER, "POST", "/v1/me/withdrawals", json=withdrawal)["withdrawal_id"]


def _webhooks(w: World) -> None:
    """A delivery of one of the merchant's events (the operator's replay queues it without a worker)."""
    with w.db.uow(write=False) as conn:
        event_id = conn.execute(
            select(outbox_events.c.event_id)
            .where(outbox_events.c.partner_id == w.ids["merchant_id"])
            .limit(1)
        ).scalar_one()
    deliveries = w.ok(ADMIN, "POST", f"/v1/admin/webhooks/events/{event_id}/replay")
    w.ids |= {"event_id": event_id, "delivery_id": deliveries[0]["delivery_id"]}


def _carrier(w: World) -> None:
    pair = {"barcode": BARCODE, "verification_code": CARRIER_CODE}
    assert w.http.post("/fake-einvoice/_fake/carriers", json=pair).status_code == 204
    w.ids["carrier_id"] = w.ok(USER, "POST", "/v1/me/einvoice/carriers", json=pair)["carrier_id"]


def _catalog(w: World, now_ns: int) -> None:
    game = {
        "key": "dragon",
        "title": "Dragon",
        "platforms": ["android"],
        "play_package": "com.example.dragon",
        "tracking_provider": "earnloop",
        "status": "active",
        "currency": CURRENCY,
        "milestones": [
            {"key": "lv5", "title": "Level 5", "within_days": 7, "reward_amount": 100, "position": 1}
        ],
    }
    merchant = {
        "key": "bikes",
        "partner_id": w.ids["merchant_id"],
        "name": "Bikes",
        "category": "sports",
        "tracking_template": "https://bikes.example/?c={click_id}",
        "rates": {"default": 500},
    }
    campaign = {
        "key": "double",
        "name": "2x zone",
        "multiplier_bps": 20000,
        "starts_at_ns": now_ns - DAY_NS,
        "ends_at_ns": now_ns + 60 * DAY_NS,
        "budget_total": 10_000,
        "games": ["dragon"],
    }
    w.ids["game_id"] = w.ok(ADMIN, "PUT", "/v1/admin/catalog/games", json=game)["game_id"]
    w.ids["catalog_merchant_id"] = w.ok(ADMIN, "PUT", "/v1/admin/catalog/merchants", json=merchant)[
        "merchant_id"
    ]
    w.ids["catalog_campaign_id"] = w.ok(ADMIN, "PUT", "/v1/admin/catalog/campaigns", json=campaign)[
        "campaign_id"
    ]
    publisher_secrets = f"/v1/admin/tracking/partners/{w.ids['game_publisher_id']}/secrets"
    w.ok(ADMIN, "PUT", publisher_secrets, json={"secret": TRACKING_SECRET})
    secrets_url = f"/v1/admin/affiliate/merchants/{w.ids['catalog_merchant_id']}/secrets"
    w.ok(ADMIN, "PUT", secrets_url, json={"secret": AFFILIATE_SECRET})


def _charity(w: World, now_ns: int) -> None:
    from earnloop.wallet.schemas import from_ns

    campaign = {
        "name": "Clean water",
        "currency": CURRENCY,
        "goal": 10_000,
        "starts_at": from_ns(now_ns - DAY_NS).isoformat(),
        "ends_at": from_ns(now_ns + 60 * DAY_NS).isoformat(),
    }
    created = w.ok(ADMIN, "POST", f"/v1/admin/charities/{w.ids['charity_id']}/campaigns", json=campaign)
    w.ids["charity_campaign_id"] = created["campaign_id"]


def _strategy(w: World) -> None:
    """The risk operator, and two draft versions of a strategy published by another risk operator (so
    that the risk operator may approve them)."""
    from earnloop.auth.operators import create_operator, operator_for_token
    from earnloop.risk.fields import catalogue
    from earnloop.risk.strategies import service
    from earnloop.risk.strategies.schemas import VersionIn

    document = VersionIn.model_validate(
        {"changelog": "matrix", "rules": [{"code": "big", "expression": "amount > 10", "outcome": "review"}]}
    )
    with w.db.uow() as conn:
        w.secrets[RISK] = create_operator(conn, "matrix-risk", ["risk"]).secret
        author = operator_for_token(conn, create_operator(conn, "matrix-author", ["risk"]).secret)
        assert author is not None
        for _ in range(2):
            service.publish(conn, STRATEGY, document, author, fields=catalogue(), now_ns=1)
    w.ids |= {"name": STRATEGY, "version": 1}
