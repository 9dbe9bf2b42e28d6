"""Shopping cashback over real HTTP on SQLite and PostgreSQL: a user's click on a merchant (302 carrying
the click id), signed conversion postbacks (pending cashback with the 2x campaign bonus), payment by the
worker after the lock period, partial refunds before and after payment, reversal after payment
(clawback, debt when already spent), rejections (recorded, problem+json, no money) and duplicates."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import select

from earnloop.affiliate.models import (
    affiliate_clicks,
    affiliate_conversions,
    affiliate_requests,
    affiliate_reward_parts,
)
from earnloop.catalog import service as catalog
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.wallet.cashback.models import cashback_entries
from earnloop.worker import confirm_cashback
from tests.integration.affiliate.support import (
    DAY_S,
    LOCK_DAYS,
    World,
    click,
    conversions,
    count,
    make_world,
    money,
    postback,
    register_secret,
    spend,
    update,
)
from tests.integration.ledger_invariants import check_ledger_invariants
from tests.live_server import client

PAST_LOCK_S = LOCK_DAYS * DAY_S + 1


def test_click_to_paid_cashback_with_2x_campaign(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    click_id = click(api, world)
    with db.uow(write=False) as conn:
        row = conn.execute(select(affiliate_clicks).where(affiliate_clicks.c.click_id == click_id)).one()
    assert (row.user_id, row.merchant_id, row.device, row.client_ip) == (
        world.user_id,
        world.merchant_id,
        "android",
        "127.0.0.1",
    )
    assert "Android" in row.user_agent

    # 5% of 20 000 = 1 000 from the partner, doubled by the campaign: 2 000 pending.
    first = postback(api, clock, world.merchant_id, update("A-1", click_id, "pending", 20_000))
    assert first.status_code == 200, first.text
    assert (first.json()["reward"], first.json()["reward_status"]) == (2_000, "pending")
    assert money(api, world) == (2_000, 0, 0)
    (mine,) = conversions(api, world)
    assert (mine["order_id"], mine["status"], mine["reward"]) == ("A-1", "pending", 2_000)
    assert sorted(p["part"] for p in mine["parts"]) == ["base", f"bonus:{world.campaign_id}"]

    clock.advance(seconds=3 * DAY_S)
    approved = postback(api, clock, world.merchant_id, update("A-1", click_id, "approved", 20_000))
    assert approved.json()["conversion_status"] == "approved"
    assert confirm_cashback(db, ledger) == 0  # still inside the lock period
    assert money(api, world) == (2_000, 0, 0)

    clock.advance(seconds=PAST_LOCK_S)
    assert confirm_cashback(db, ledger) == 2
    assert money(api, world) == (0, 2_000, 0)
    (mine,) = conversions(api, world)
    assert (mine["status"], mine["reward"], mine["reward_status"]) == ("approved", 2_000, "paid")
    spend(api, world, 1_500, "spend-1")  # spendable: paid from the wallet
    assert money(api, world) == (0, 500, 0)


def test_partial_refunds_shrink_the_reward_before_and_after_payment(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    click_id = click(api, world)
    assert (
        postback(api, clock, world.merchant_id, update("B-1", click_id, "pending", 20_000)).status_code == 200
    )
    # Before payment: a quarter refunded → the pending reward is 3/4 (both parts), same entries.
    refund = postback(api, clock, world.merchant_id, update("B-1", click_id, "pending", 15_000))
    assert (refund.status_code, refund.json()["reward"]) == (200, 1_500), refund.text
    assert money(api, world) == (1_500, 0, 0)
    with db.uow(write=False) as conn:
        assert count(conn, cashback_entries) == 2
    clock.advance(seconds=PAST_LOCK_S)
    assert confirm_cashback(db, ledger) == 2
    assert money(api, world) == (0, 1_500, 0)

    # After payment: down to 5 000 → the difference (1 000) is clawed back from the wallet.
    after = postback(api, clock, world.merchant_id, update("B-1", click_id, "approved", 5_000))
    assert (after.status_code, after.json()["reward"]) == (200, 500), after.text
    assert money(api, world) == (0, 500, 0)
    # A higher amount later is refused; the same refund again changes nothing.
    higher = postback(api, clock, world.merchant_id, update("B-1", click_id, "approved", 9_000))
    assert (higher.status_code, higher.json()["reason_code"]) == (422, "amount_increase")
    again = postback(api, clock, world.merchant_id, update("B-1", click_id, "approved", 5_000))
    assert again.content == after.content
    assert money(api, world) == (0, 500, 0)
    (mine,) = conversions(api, world)
    assert (mine["order_amount"], mine["first_amount"], mine["reward"]) == (5_000, 20_000, 500)
    check_ledger_invariants(db)


def test_reversal_after_payment_claws_back_with_debt_when_spent(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    click_id = click(api, world)
    postback(api, clock, world.merchant_id, update("C-1", click_id, "pending", 20_000))
    clock.advance(seconds=PAST_LOCK_S)
    confirm_cashback(db, ledger)
    spend(api, world, 1_200, "spend-c")
    assert money(api, world) == (0, 800, 0)

    reversed_ = postback(api, clock, world.merchant_id, update("C-1", click_id, "reversed", 20_000))
    assert reversed_.status_code == 200, reversed_.text
    assert (reversed_.json()["reward"], reversed_.json()["reward_status"]) == (0, "clawed_back")
    assert money(api, world) == (0, 0, 1_200)  # 800 taken back, 1 200 owed

    backwards = postback(api, clock, world.merchant_id, update("C-1", click_id, "approved", 20_000))
    assert backwards.status_code == 422
    assert backwards.headers["content-type"] == "application/problem+json"
    assert backwards.json()["reason_code"] == "status_backwards"
    assert money(api, world) == (0, 0, 1_200)

    # New earnings repay the debt first.
    other_click = click(api, world)
    postback(api, clock, world.merchant_id, update("C-2", other_click, "pending", 10_000))
    clock.advance(seconds=PAST_LOCK_S)
    confirm_cashback(db, ledger)
    assert money(api, world) == (0, 0, 200)
    check_ledger_invariants(db)


def test_reversal_before_payment_voids_the_pending_reward(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    click_id = click(api, world)
    postback(api, clock, world.merchant_id, update("D-1", click_id, "pending", 20_000))
    declined = postback(api, clock, world.merchant_id, update("D-1", click_id, "declined", 20_000))
    assert (declined.json()["conversion_status"], declined.json()["reward_status"]) == ("declined", "void")
    clock.advance(seconds=PAST_LOCK_S)
    assert confirm_cashback(db, ledger) == 0
    assert money(api, world) == (0, 0, 0)
    admin = api.get("/v1/admin/affiliate/conversions", params={"status": "declined"}).json()
    assert [c["order_id"] for c in admin] == ["D-1"]


def test_rejected_postbacks_are_recorded_and_move_no_money(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    click_id = click(api, world)
    other_click = click(api, world, world.other_merchant_id)
    now_s = clock.now_ns() // 10**9
    good = update("E-1", click_id, "pending", 20_000)
    tampered = json.dumps(update("E-1", click_id, "pending", 2_000_000)).encode()
    m = world.merchant_id
    cases = [
        (
            "wrong secret",
            postback(api, clock, m, good, secret="not-the-secret-0000000"),
            403,
            "bad_signature",
        ),
        ("forged body", postback(api, clock, m, good, sent_body=tampered), 403, "bad_signature"),
        ("expired", postback(api, clock, m, good, t=now_s - 3600), 403, "stale_timestamp"),
        ("not json", postback(api, clock, m, b"{oops"), 400, "malformed"),
        ("no order id", postback(api, clock, m, {**good, "order_id": ""}), 400, "missing_field"),
        ("float amount", postback(api, clock, m, {**good, "order_amount": 10.5}), 400, "malformed"),
        (
            "unknown click",
            postback(api, clock, m, update("E-2", "nope", "pending", 100)),
            422,
            "unknown_click",
        ),
        (
            "other merchant's click",
            postback(api, clock, m, update("E-3", other_click, "pending", 100)),
            422,
            "click_mismatch",
        ),
        ("currency", postback(api, clock, m, {**good, "currency": "USD"}), 422, "currency_mismatch"),
        ("no secret", postback(api, clock, world.other_merchant_id, good), 503, "not_configured"),
        ("no merchant", postback(api, clock, 999_999, good), 404, "unknown_merchant"),
    ]
    for name, response, status, reason in cases:
        assert response.status_code == status, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json", name
        assert response.json()["reason_code"] == reason, name
    assert money(api, world) == (0, 0, 0)
    with db.uow(write=False) as conn:
        assert count(conn, cashback_entries) == 0
        assert count(conn, affiliate_conversions) == 0
        recorded = conn.execute(
            select(affiliate_requests.c.reason_code, affiliate_requests.c.body)
            .where(affiliate_requests.c.outcome == "rejected")
            .order_by(affiliate_requests.c.id)
        ).all()
    assert [r.reason_code for r in recorded] == [reason for _, _, _, reason in cases]
    assert bytes(recorded[1].body) == tampered  # stored as received
    # The authentic postback is then accepted: rejections claimed nothing.
    assert postback(api, clock, m, good).status_code == 200
    assert money(api, world) == (2_000, 0, 0)


def test_duplicate_postback_credits_once_with_the_first_reply(
    api: httpx.Client, world: World, db: Database, clock: ManualClock
) -> None:
    click_id = click(api, world)
    body = update("F-1", click_id, "pending", 20_000)
    first = postback(api, clock, world.merchant_id, body)
    clock.advance(seconds=60)
    again = postback(api, clock, world.merchant_id, body)  # re-signed later: still the same update
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert money(api, world) == (2_000, 0, 0)
    with db.uow(write=False) as conn:
        outcomes = list(
            conn.execute(select(affiliate_requests.c.outcome).order_by(affiliate_requests.c.id)).scalars()
        )
        assert count(conn, cashback_entries) == 2
    assert outcomes == ["accepted", "duplicate"]
    listed = api.get("/v1/admin/affiliate/requests", params={"outcome": "duplicate"}).json()
    assert [(r["order_id"], r["channel"]) for r in listed] == [("F-1", "postback")]


def test_click_needs_a_user_and_an_active_merchant(api: httpx.Client, world: World) -> None:
    anonymous = api.get(f"/go/shop/{world.merchant_id}", follow_redirects=False)  # admin token ≠ user
    assert (anonymous.status_code, anonymous.headers["content-type"]) == (401, "application/problem+json")
    missing = api.get(
        "/go/shop/999999", headers={"Authorization": f"Bearer {world.token}"}, follow_redirects=False
    )
    assert (missing.status_code, missing.headers["content-type"]) == (404, "application/problem+json")


def test_secret_rotation_allows_two_active_secrets(
    api: httpx.Client, world: World, clock: ManualClock
) -> None:
    register_secret(api, world.merchant_id, "next-secret-0123456789")
    third = api.put(
        f"/v1/admin/affiliate/merchants/{world.merchant_id}/secrets",
        json={"secret": "third-secret-0123456789"},
    )
    assert (third.status_code, third.headers["content-type"]) == (422, "application/problem+json")
    click_id = click(api, world)
    signed_new = postback(
        api,
        clock,
        world.merchant_id,
        update("G-1", click_id, "pending", 100),
        secret="next-secret-0123456789",
    )
    assert signed_new.status_code == 200, signed_new.text
    listed = api.get(f"/v1/admin/affiliate/merchants/{world.merchant_id}/secrets").json()
    assert [s["active"] for s in listed] == [True, True]
    assert "secret" not in listed[0]


def test_concurrent_conversions_never_overspend_the_campaign_budget(
    api: httpx.Client, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    w = make_world(db, ledger, clock, funded=2_500)  # room for two and a half 1 000 bonuses
    register_secret(api, w.merchant_id)
    clicks = [click(api, w) for _ in range(8)]

    def convert(i: int) -> int:
        with client(str(api.base_url)) as http:
            body = update(f"H-{i}", clicks[i], "pending", 20_000)
            return postback(http, clock, w.merchant_id, body).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(convert, range(8)))
    assert statuses == [200] * 8  # a bonus refused by the ledger never fails the conversion
    with db.uow(write=False) as conn:
        bonus = [p for p in conn.execute(select(affiliate_reward_parts)).all() if p.part != "base"]
        base = count(conn, affiliate_reward_parts, affiliate_reward_parts.c.part == "base")
        remaining = catalog.budget_remaining(conn, ledger, w.campaign_id, "TWD")
    paid = sum(p.first_amount for p in bonus)
    assert base == 8
    assert paid <= 2_500
    assert remaining == 2_500 - paid
    assert money(api, w) == (8 * 1_000 + paid, 0, 0)
    check_ledger_invariants(db)
