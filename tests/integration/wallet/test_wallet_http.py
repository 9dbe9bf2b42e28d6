"""Wallet over real HTTP: users, wallets, cashback, adjustments, and their error answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.worker import confirm_cashback


def _user(api: httpx.Client, handle: str) -> httpx.Client:
    created = api.post("/v1/users", json={"handle": handle})
    assert created.status_code == 201
    return httpx.Client(
        base_url=str(api.base_url), headers={"Authorization": f"Bearer {created.json()['token']}"}
    )


def test_user_sees_pending_then_confirmed_cashback(
    api: httpx.Client, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    with _user(api, "carol") as me:
        assert me.post("/v1/me/wallets/TWD").json()["available"] == 0
        user_id = me.get("/v1/me/wallets/TWD").json()["user_id"]
        release = datetime.fromtimestamp(clock.now_ns() // 10**9, tz=UTC) + timedelta(days=7)
        body = {
            "source": "game",
            "ref": "install-9:level-10",
            "user_id": user_id,
            "currency": "TWD",
            "amount": 3_000,
            "release_at": release.isoformat(),
            "funding": {"kind": "partner", "owner": 3},
        }
        first = api.post("/v1/admin/cashback", json=body)
        assert first.status_code == 200
        assert api.post("/v1/admin/cashback", json=body).json() == first.json()
        conflict = api.post("/v1/admin/cashback", json={**body, "amount": 3_001})
        assert conflict.status_code == 409
        assert conflict.json()["type"].endswith("/exists-with-different-fields")
        pending = me.get("/v1/me/wallets/TWD").json()
        clock.advance(seconds=8 * 86_400)
        assert confirm_cashback(db, ledger) == 1
        confirmed = me.get("/v1/me/wallets/TWD").json()
        history = me.get("/v1/me/wallets/TWD/history").json()
    assert (pending["pending"], pending["available"]) == (3_000, 0)
    assert pending["pending_items"][0]["release_at"].startswith(release.strftime("%Y-%m-%dT%H:%M:%S"))
    assert (confirmed["pending"], confirmed["available"], confirmed["lifetime_earned"]) == (0, 3_000, 3_000)
    assert [h["kind"] for h in history] == ["cashback_confirmed", "cashback_pending"]


def test_adjustment_needs_a_key_and_insufficient_funds_change_nothing(api: httpx.Client) -> None:
    with _user(api, "dave") as me:
        user_id = me.post("/v1/me/wallets/USD").json()["user_id"]
        url = f"/v1/admin/users/{user_id}/wallets/USD/adjustments"
        no_key = api.post(url, json={"amount": 100, "direction": "credit", "reason": "goodwill"})
        credit = api.post(
            url,
            json={"amount": 100, "direction": "credit", "reason": "goodwill"},
            headers={"Idempotency-Key": "adj-1"},
        )
        replay = api.post(
            url,
            json={"amount": 100, "direction": "credit", "reason": "goodwill"},
            headers={"Idempotency-Key": "adj-1"},
        )
        too_much = api.post(
            url,
            json={"amount": 101, "direction": "debit", "reason": "correction"},
            headers={"Idempotency-Key": "adj-2"},
        )
        wallet = me.get("/v1/me/wallets/USD").json()
    assert no_key.status_code == 422
    assert credit.status_code == 200
    assert replay.json() == credit.json()
    assert too_much.status_code == 422
    assert too_much.json()["type"].endswith("/insufficient-funds")
    assert wallet["available"] == 100


def test_wallet_errors_are_problem_json(api: httpx.Client) -> None:
    with _user(api, "erin") as me:
        assert me.get("/v1/me/wallets/TWD").status_code == 404
        # an unsupported currency is refused by the path's schema (an enum in the OpenAPI document)
        assert me.post("/v1/me/wallets/XXX").json()["type"].endswith("/validation-error")
    assert httpx.get(str(api.base_url).rstrip("/") + "/v1/me/wallets/TWD").status_code == 401
    assert api.post("/v1/users", json={"handle": "erin"}).status_code == 409
