"""Development without ``EARNLOOP_EINVOICE_API_URL``: the fake platform is served by ``earnloop serve``
at ``/fake-einvoice``, and ``earnloop worker --once`` — a separate process with the same settings — syncs
a bound carrier through it and rewards its partner receipts; when nothing is served there, the worker
says so and leaves the carrier due for the next round. Real processes, real HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from earnloop.db.engine import Database
from tests.conftest import ADMIN_TOKEN, Cli, DbTarget
from tests.live_server import client, earnloop_serve, free_port

FAKE = "/fake-einvoice/_fake"
BARCODE, CODE = "/WK12+.-", "s3cret1"
PARTNER_TAX_ID = "04595257"
STRANGER_TAX_ID = "12345678"


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _partner_merchant(http: httpx.Client) -> None:
    body = {"name": "Partner Mart", "kind": "merchant", "settlement_currency": "TWD"}
    partner = _ok(http.post("/v1/partners", json=body), 201)
    merchant = {
        "key": "partner-mart",
        "partner_id": partner["partner_id"],
        "name": "Partner Mart",
        "category": "grocery",
        "tax_ids": [PARTNER_TAX_ID],
        "rates": {"default": 200},
        "lock_period_days": 7,
    }
    _ok(http.put("/v1/admin/catalog/merchants", json=merchant))


def _user(http: httpx.Client) -> dict[str, str]:
    token = _ok(http.post("/v1/users", json={"handle": "wendy"}), 201)["token"]
    return {"Authorization": f"Bearer {token}"}


def _fake_carrier_with_receipts(http: httpx.Client) -> None:
    """The served fake platform (in-memory) knows the carrier and holds a partner's and a stranger's
    receipt, dated yesterday in Taipei."""
    carrier = {"barcode": BARCODE, "verification_code": CODE}
    _ok(http.post(f"{FAKE}/carriers", json=carrier), 204)
    day = (datetime.now(UTC) + timedelta(hours=8)).date() - timedelta(days=1)
    for number, seller in (("WK12345678", PARTNER_TAX_ID), ("WK12345679", STRANGER_TAX_ID)):
        invoice = {
            "barcode": BARCODE,
            "invoice_number": number,
            "invoice_date": day.isoformat(),
            "seller_tax_id": seller,
            "seller_name": "商店",
            "amount": 5_000,
        }
        _ok(http.post(f"{FAKE}/invoices", json=invoice), 204)


def _bind(http: httpx.Client, user: dict[str, str]) -> None:
    carrier = {"barcode": BARCODE, "verification_code": CODE}
    _ok(http.post("/v1/me/einvoice/carriers", json=carrier, headers=user), 201)


def _assert_synced_and_rewarded(http: httpx.Client, user: dict[str, str]) -> None:
    carrier = _ok(http.get("/v1/me/einvoice/carriers", headers=user))[0]
    assert carrier["last_sync_status"] == "ok", carrier
    receipts = _ok(http.get("/v1/me/einvoice/receipts", headers=user))
    assert {r["invoice_number"] for r in receipts} == {"WK12345678", "WK12345679"}
    wallet = _ok(http.get("/v1/me/wallets/TWD", headers=user))
    assert wallet["pending"] == 5_000 * 100 * 200 // 10_000  # 2 % of the partner's NT$5,000 only


def test_worker_once_syncs_through_the_served_fake_platform(
    db: Database, db_target: DbTarget, tmp_path: Path
) -> None:
    port = free_port()
    env = {"EARNLOOP_ADMIN_TOKEN": ADMIN_TOKEN, "EARNLOOP_PORT": str(port)}
    with (
        earnloop_serve(db_target.cli_url, tmp_path, port=port, **env) as base_url,
        client(base_url, ADMIN_TOKEN) as http,
    ):
        _partner_merchant(http)
        user = _user(http)
        _fake_carrier_with_receipts(http)
        _bind(http, user)

        worker = Cli(db_target, tmp_path)("worker", "--once", **env)
        assert worker.returncode == 0, worker.stderr
        _assert_synced_and_rewarded(http, user)


def test_worker_without_the_served_fake_leaves_carriers_due(
    db: Database, db_target: DbTarget, tmp_path: Path
) -> None:
    port = free_port()
    env = {"EARNLOOP_ADMIN_TOKEN": ADMIN_TOKEN, "EARNLOOP_PORT": str(port)}
    with (
        earnloop_serve(db_target.cli_url, tmp_path, port=port, **env) as base_url,
        client(base_url, ADMIN_TOKEN) as http,
    ):
        _partner_merchant(http)
        user = _user(http)
        _fake_carrier_with_receipts(http)
        _bind(http, user)

    # `earnloop serve` is down: nothing answers at /fake-einvoice.
    worker = Cli(db_target, tmp_path)("worker", "--once", **env)
    assert worker.returncode == 0, worker.stderr
    assert "earnloop serve" in worker.stdout + worker.stderr

    with (
        earnloop_serve(db_target.cli_url, tmp_path, port=port, **env) as base_url,
        client(base_url, ADMIN_TOKEN) as http,
    ):
        _fake_carrier_with_receipts(http)  # the fake's state lives in the served process's memory
        worker = Cli(db_target, tmp_path)("worker", "--once", **env)
        assert worker.returncode == 0, worker.stderr
        _assert_synced_and_rewarded(http, user)
