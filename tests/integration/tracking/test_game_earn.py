"""The game earn path over real HTTP on SQLite and PostgreSQL: a user's click (302 carrying the click id),
signed postbacks for milestones (pending cashback with a 2x campaign bonus), confirmation by the worker
sweep; and every rejection (recorded, problem+json, no money) and the duplicate-transaction reply."""

from __future__ import annotations

import hashlib
import json

import httpx
from sqlalchemy import select

from earnloop import worker
from earnloop.catalog import service as catalog
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.default_strategy import VERSION
from earnloop.risk.engine import ALLOW_ALL
from earnloop.risk.models import risk_decisions
from earnloop.tracking.models import tracking_clicks, tracking_conversions, tracking_postbacks
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.cashback.models import cashback_entries
from tests.integration.tracking.support import (
    DAY_S,
    World,
    click,
    count,
    event,
    make_world,
    money,
    postback,
    register_secret,
    wallet_of,
)


def test_click_to_confirmed_cashback_with_2x_bonus(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    # Apple devices go to the App Store, with the click id as the campaign token.
    r = api.get(
        f"/go/{world.game_id}",
        headers={
            "Authorization": f"Bearer {world.token}",
            "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)",
        },
        follow_redirects=False,
    )
    assert r.status_code == 302
    assert r.headers["location"].startswith("https://apps.apple.com/app/id123456789?ct=")
    click_id = click(api, world)
    with db.uow(write=False) as conn:
        row = conn.execute(select(tracking_clicks).where(tracking_clicks.c.click_id == click_id)).one()
        assert (row.user_id, row.game_id, row.client_ip) == (world.user_id, world.game_id, "127.0.0.1")
        assert "Android" in row.user_agent

    first = postback(api, clock, event("txn-1", click_id, "lv5"))
    assert (first.status_code, first.content) == (200, b'{"status":"ok"}')
    assert money(db, ledger, world.user_id) == (2, 200, 0)  # 100 base + 100 bonus; reported amount ignored
    clock.advance(seconds=3600)
    second = postback(api, clock, event("txn-2", click_id, "lv10"))
    assert second.status_code == 200
    assert money(db, ledger, world.user_id) == (4, 800, 0)

    # The provider retries txn-2 (even re-signed later): one credit, the first reply verbatim.
    clock.advance(seconds=60)
    again = postback(api, clock, event("txn-2", click_id, "lv10"))
    assert (again.status_code, again.content, again.headers["content-type"]) == (
        second.status_code,
        second.content,
        second.headers["content-type"],
    )
    assert money(db, ledger, world.user_id) == (4, 800, 0)

    with db.uow(write=False) as conn:
        refs = sorted(conn.execute(select(cashback_entries.c.ref)).scalars())
        assert refs == [
            "earnloop:txn-1",
            f"earnloop:txn-1:bonus:{world.campaign_id}",
            "earnloop:txn-2",
            f"earnloop:txn-2:bonus:{world.campaign_id}",
        ]
        # one decision per reward, by the tests' allow-all strategy, the default strategy in shadow
        decided = risk_decisions.c.strategy_version == ALLOW_ALL.version
        assert count(conn, risk_decisions, decided, risk_decisions.c.shadow_version == VERSION) == 2
        assert count(conn, tracking_conversions) == 2
        outcomes = sorted(conn.execute(select(tracking_postbacks.c.outcome)).scalars())
        assert outcomes == ["accepted", "accepted", "duplicate"]
        assert catalog.budget_remaining(conn, ledger, world.campaign_id, "TWD") == 5_000 - 400

    # The worker's sweep (lock period 0 for games) confirms everything: the money becomes available.
    with db.uow() as conn:
        assert cashback.confirm_due(conn, ledger, clock.now_ns()) == 4
    assert money(db, ledger, world.user_id) == (4, 0, 800)


def test_rejections_are_recorded_and_move_no_money(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    click_id = click(api, world)
    now_s = clock.now_ns() // 10**9
    good = event("txn-x", click_id, "lv5")
    cases: list[tuple[str, httpx.Response, int, str]] = [
        ("wrong secret", postback(api, clock, good, secret="not-the-secret-000000000"), 403, "bad_signature"),
        (
            "forged body",
            postback(api, clock, good, sent_body=json.dumps(event("txn-x", click_id, "lv20")).encode()),
            403,
            "bad_signature",
        ),
        ("stale", postback(api, clock, good, t=now_s - 3600), 403, "stale_timestamp"),
        ("malformed", postback(api, clock, b"{not json"), 400, "malformed"),
        (
            "missing field",
            postback(api, clock, {"transaction_id": "t", "click_id": click_id}),
            400,
            "missing_field",
        ),
        ("unknown click", postback(api, clock, event("txn-u", "no-such-click", "lv5")), 422, "unknown_click"),
        (
            "unknown milestone",
            postback(api, clock, event("txn-m", click_id, "lv99")),
            422,
            "unknown_milestone",
        ),
        (
            "out of order",
            postback(api, clock, event("txn-o", click_id, "lv10")),
            422,
            "milestone_out_of_order",
        ),
    ]
    for name, response, status, reason in cases:
        assert response.status_code == status, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json", name
        assert response.json()["reason_code"] == reason, name
    assert money(db, ledger, world.user_id) == (0, 0, 0)
    unknown = api.post("/postbacks/nosuchprovider", content=b"{}")
    assert (unknown.status_code, unknown.json()["reason_code"]) == (404, "unknown_provider")

    # lv5 is accepted; the same milestone again under another transaction id is a duplicate milestone.
    assert postback(api, clock, good).status_code == 200
    assert money(db, ledger, world.user_id) == (2, 200, 0)
    dup = postback(api, clock, event("txn-y", click_id, "lv5"))
    assert (dup.status_code, dup.json()["reason_code"]) == (422, "duplicate_milestone")
    # The out-of-order lv10 retried now that lv5 is in is judged again, and accepted.
    assert postback(api, clock, event("txn-o", click_id, "lv10")).status_code == 200
    assert money(db, ledger, world.user_id) == (4, 800, 0)
    # lv20 must come within 30 days of the click.
    clock.advance(seconds=31 * DAY_S)
    late = postback(api, clock, event("txn-late", click_id, "lv20"))
    assert (late.status_code, late.json()["reason_code"]) == (422, "attribution_expired")
    assert money(db, ledger, world.user_id) == (4, 800, 0)

    with db.uow(write=False) as conn:
        rejected = conn.execute(
            select(tracking_postbacks.c.reason_code, tracking_postbacks.c.body)
            .where(tracking_postbacks.c.outcome == "rejected")
            .order_by(tracking_postbacks.c.id)
        ).all()
        assert [r.reason_code for r in rejected] == [
            *(reason for _, _, _, reason in cases),
            "unknown_provider",
            "duplicate_milestone",
            "attribution_expired",
        ]
        assert bytes(rejected[3].body) == b"{not json"  # stored as received
        assert count(conn, tracking_conversions) == 2  # rejections do not claim their transaction id
        assert count(conn, risk_decisions) == 2
    listed = api.get("/v1/admin/tracking/postbacks", params={"outcome": "rejected"}).json()
    assert listed[0]["reason_code"] == "attribution_expired"


def test_click_needs_a_user_token(api: httpx.Client, world: World) -> None:
    r = api.get(f"/go/{world.game_id}", follow_redirects=False)  # the admin token is not a user token
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    missing = api.get(
        "/go/999999", headers={"Authorization": f"Bearer {world.token}"}, follow_redirects=False
    )
    assert missing.status_code == 404


def test_query_string_providers_over_get(api: httpx.Client, world: World, clock: ManualClock) -> None:
    click_id = click(api, world)
    params = {"id": "tj-1", "snuid": click_id, "currency": "5"}
    unconfigured = api.get("/postbacks/tapjoy", params={**params, "verifier": "0" * 32})
    assert (unconfigured.status_code, unconfigured.json()["reason_code"]) == (503, "not_configured")
    secret = "tapjoy-secret-0123456789"
    assert api.put("/v1/admin/tracking/providers/tapjoy/secrets", json={"secret": secret}).status_code == 200
    forged = api.get("/postbacks/tapjoy", params={**params, "verifier": "0" * 32})
    assert (forged.status_code, forged.json()["reason_code"]) == (403, "bad_signature")
    digest = hashlib.md5(f"tj-1:{click_id}:5:{secret}".encode(), usedforsecurity=False).hexdigest()
    polluted = api.get(f"/postbacks/tapjoy?id=tj-1&id=tj-2&snuid={click_id}&currency=5&verifier={digest}")
    assert (polluted.status_code, polluted.json()["reason_code"]) == (400, "malformed")
    # Authentic, but this game is tracked by earnloop, not Tapjoy: Tapjoy cannot pay it (issue 13).
    authentic = api.get("/postbacks/tapjoy", params={**params, "verifier": digest})
    assert (authentic.status_code, authentic.json()["reason_code"]) == (422, "provider_mismatch")


def test_game_lock_period_keeps_rewards_pending_until_it_ends(
    api: httpx.Client, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    w = make_world(db, ledger, clock, lock_period_days=7)
    register_secret(api, publisher_id=w.publisher_id)
    assert postback(api, clock, event("txn-1", click(api, w), "lv5")).status_code == 200
    assert (wallet_of(api, w.token)["pending"], wallet_of(api, w.token)["available"]) == (200, 0)
    assert worker.confirm_cashback(db, ledger) == 0
    clock.advance(seconds=7 * DAY_S - 1)
    assert worker.confirm_cashback(db, ledger) == 0
    assert wallet_of(api, w.token)["pending"] == 200
    clock.advance(seconds=1)
    assert worker.confirm_cashback(db, ledger) == 2
    view = wallet_of(api, w.token)
    assert (view["pending"], view["available"]) == (0, 200)
