"""Reversal (chargeback) postbacks over real HTTP on SQLite and PostgreSQL: before confirmation the reward
and its 2x bonus are voided (the campaign budget gets the bonus back), after the worker confirmed them
they are clawed back, and what the user already withdrew becomes debt that freezes withdrawals. A
reversal is idempotent; one for an unknown or unnamed transaction is refused and moves no money."""

from __future__ import annotations

import hashlib

import httpx
from sqlalchemy import select

from earnloop import worker
from earnloop.catalog import service as catalog
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.models import transfers as ledger_transfers
from earnloop.ledger.service import LedgerService
from earnloop.tracking.models import tracking_postbacks
from earnloop.wallet.cashback.models import cashback_entries
from tests.integration.tracking.support import (
    World,
    click,
    count,
    event,
    postback,
    register_secret,
    reversal,
    wallet_of,
)

OK = (200, b'{"status":"ok"}')


def budget(db: Database, ledger: LedgerService, w: World) -> int:
    with db.uow(write=False) as conn:
        return catalog.budget_remaining(conn, ledger, w.campaign_id, "TWD")


def ledger_moves(db: Database) -> int:
    with db.uow(write=False) as conn:
        return count(conn, ledger_transfers)


def statuses(db: Database) -> dict[str, str]:
    with db.uow(write=False) as conn:
        rows = conn.execute(select(cashback_entries.c.ref, cashback_entries.c.status)).all()
    return {r.ref: r.status for r in rows}


def outcomes(db: Database) -> list[tuple[str, str | None, str | None]]:
    with db.uow(write=False) as conn:
        rows = conn.execute(
            select(
                tracking_postbacks.c.outcome,
                tracking_postbacks.c.reason_code,
                tracking_postbacks.c.transaction_id,
            ).order_by(tracking_postbacks.c.id)
        ).all()
    return [(r.outcome, r.reason_code, r.transaction_id) for r in rows]


def test_reversal_before_confirmation_voids_reward_and_bonus(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    click_id = click(api, world)
    earned = postback(api, clock, event("txn-1", click_id, "lv5"))
    assert (earned.status_code, earned.content) == OK
    assert (wallet_of(api, world.token)["pending"], budget(db, ledger, world)) == (200, 4_900)

    clock.advance(seconds=60)
    first = postback(api, clock, reversal("rev-1", click_id, "txn-1"))
    assert (first.status_code, first.content) == OK
    view = wallet_of(api, world.token)
    assert (view["pending"], view["available"], view["debt"]) == (0, 0, 0)
    assert budget(db, ledger, world) == 5_000  # the campaign has its bonus back
    bonus = f"earnloop:txn-1:bonus:{world.campaign_id}"
    assert statuses(db) == {"earnloop:txn-1": "reversed", bonus: "reversed"}

    # The provider resends the reversal, and sends another one for the same conversion: no money moves.
    moves = ledger_moves(db)
    clock.advance(seconds=60)
    again = postback(api, clock, reversal("rev-1", click_id, "txn-1"))
    other = postback(api, clock, reversal("rev-2", click_id, "txn-1"))
    assert (again.status_code, again.content) == OK
    assert (other.status_code, other.content) == OK
    assert ledger_moves(db) == moves
    assert budget(db, ledger, world) == 5_000

    # The milestone stays counted: replaying it under a new transaction id earns nothing.
    replay = postback(api, clock, event("txn-1b", click_id, "lv5"))
    assert (replay.status_code, replay.json()["reason_code"]) == (422, "duplicate_milestone")
    assert wallet_of(api, world.token)["pending"] == 0
    assert outcomes(db) == [
        ("accepted", None, "txn-1"),
        ("accepted", None, "rev-1"),
        ("duplicate", None, "rev-1"),
        ("duplicate", None, "rev-2"),
        ("rejected", "duplicate_milestone", "txn-1b"),
    ]


def test_reversal_after_confirmation_claws_back_and_spent_money_becomes_debt(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    user = {"Authorization": f"Bearer {world.token}"}
    click_id = click(api, world)
    assert postback(api, clock, event("txn-1", click_id, "lv5")).status_code == 200
    assert postback(api, clock, event("txn-2", click_id, "lv10")).status_code == 200
    assert worker.confirm_cashback(db, ledger) == 4
    assert wallet_of(api, world.token)["available"] == 800  # (100 + 300) × 2
    assert budget(db, ledger, world) == 4_600

    # Reversing lv5 while the user still has the money takes it back: no debt.
    assert postback(api, clock, reversal("rev-1", click_id, "txn-1")).content == OK[1]
    view = wallet_of(api, world.token)
    assert (view["available"], view["debt"]) == (600, 0)
    assert budget(db, ledger, world) == 4_700
    assert set(statuses(db).values()) == {"clawed_back", "confirmed"}

    # The user withdraws most of it; then lv10 is charged back: what is left is taken, the rest is debt.
    dest = api.post(
        "/v1/me/payout-destinations",
        headers=user,
        json={"kind": "bank", "institution": "004", "holder_name": "Player", "account_number": "12345678"},
    )
    assert dest.status_code == 201, dest.text
    destination = {"destination_id": dest.json()["destination_id"], "currency": "TWD"}
    paid = api.post(
        "/v1/me/withdrawals", headers={**user, "Idempotency-Key": "w-1"}, json={**destination, "amount": 550}
    )
    assert (paid.status_code, paid.json()["state"]) == (200, "paid"), paid.text
    assert postback(api, clock, reversal("rev-2", click_id, "txn-2", "lv10")).content == OK[1]
    view = wallet_of(api, world.token)
    assert (view["available"], view["pending"], view["debt"]) == (0, 0, 550)
    assert budget(db, ledger, world) == 5_000  # the whole bonus is back (clawed 0, owed 300)
    with db.uow(write=False) as conn:
        rows = conn.execute(
            select(cashback_entries.c.ref, cashback_entries.c.clawed_back, cashback_entries.c.debt_recorded)
            .where(cashback_entries.c.ref.like("earnloop:txn-2%"))
            .order_by(cashback_entries.c.ref)
        ).all()
    assert [(r.clawed_back, r.debt_recorded) for r in rows] == [(50, 250), (0, 300)]

    # Withdrawals are frozen while the debt is open, and nothing is held.
    frozen = api.post(
        "/v1/me/withdrawals", headers={**user, "Idempotency-Key": "w-2"}, json={**destination, "amount": 100}
    )
    assert (frozen.status_code, frozen.headers["content-type"]) == (409, "application/problem+json")
    assert frozen.json()["type"].endswith("wallet-frozen")
    assert wallet_of(api, world.token)["held"] == 0


def test_unknown_and_unnamed_reversals_are_refused_and_move_no_money(
    api: httpx.Client, world: World, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    click_id = click(api, world)
    other_click = click(api, world)
    assert postback(api, clock, event("txn-1", click_id, "lv5")).status_code == 200
    refused = postback(api, clock, event("txn-bad", click_id, "lv20"))  # out of order: never accepted
    assert refused.status_code == 422
    assert postback(api, clock, reversal("rev-1", click_id, "txn-1")).status_code == 200
    before = (wallet_of(api, world.token), budget(db, ledger, world), ledger_moves(db), statuses(db))

    cases = [
        ("unknown", reversal("rev-a", click_id, "no-such-txn"), "unknown_transaction"),
        ("never accepted", reversal("rev-b", click_id, "txn-bad"), "unknown_transaction"),
        ("a reversal itself", reversal("rev-c", click_id, "rev-1"), "unknown_transaction"),
        ("unnamed", reversal("rev-d", click_id, None), "reversal_unreferenced"),
        ("another click", reversal("rev-e", other_click, "txn-1"), "reversal_mismatch"),
    ]
    for name, fields, reason in cases:
        r = postback(api, clock, fields)
        assert (r.status_code, r.headers["content-type"]) == (422, "application/problem+json"), name
        assert r.json()["reason_code"] == reason, name

    # Tapjoy has no reversal callback: a negative amount names no reward to take back.
    secret = "tapjoy-secret-0123456789"
    register_secret(api, "tapjoy", secret)
    digest = hashlib.md5(f"tj-9:{click_id}:-5:{secret}".encode(), usedforsecurity=False).hexdigest()
    tapjoy = api.get(
        "/postbacks/tapjoy", params={"id": "tj-9", "snuid": click_id, "currency": "-5", "verifier": digest}
    )
    assert (tapjoy.status_code, tapjoy.json()["reason_code"]) == (422, "reversal_unreferenced")

    after = (wallet_of(api, world.token), budget(db, ledger, world), ledger_moves(db), statuses(db))
    assert after == before
    recorded = [o for o in outcomes(db) if o[0] == "rejected"]
    assert [o[1] for o in recorded] == [
        "milestone_out_of_order",
        *(reason for _, _, reason in cases),
        "reversal_unreferenced",
    ]
