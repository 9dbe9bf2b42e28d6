"""E-invoice cashback end to end over real HTTP, on SQLite and PostgreSQL: the API and the worker use a
fake MoF platform served over HTTP (as ``EARNLOOP_EINVOICE_API_URL``). A user binds a carrier, the
worker's sweep syncs it, a partner's receipt earns base + 2x campaign bonus (pending, then spendable after
the merchant's lock period), a voided invoice claws both back; a failing carrier does not stop the sweep.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from earnloop.api.app import create_app
from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.einvoice.fake_api import FakePlatform
from earnloop.einvoice.source import EInvoiceSource, HttpEInvoiceSource, InvoiceDetail, InvoiceHeader
from earnloop.einvoice.sweep import CarrierSweep
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import memory_engine
from earnloop.worker import run_sweeps, sync_einvoice
from tests.conftest import ADMIN_TOKEN, DbTarget
from tests.integration.einvoice.test_einvoice import APP_ID, APP_KEY, BARCODE, CODE
from tests.live_server import client, serve

PARTNER_TAX_ID = "04595257"
STRANGER_TAX_ID = "12345678"
LOCK_DAYS = 7
DAY_S = 86_400
INTERVAL_S = 6 * 3600
FAKE = "/_fake"
# ManualClock starts at 2023-11-15 06:13 in Taipei: the first sync looks 60 days back from that day.
INVOICE_DAY = date(2023, 11, 10)


@pytest.fixture
def settings(db_target: DbTarget, source: HttpEInvoiceSource) -> Settings:
    """What both the API and the worker read: the fake platform's URL and keys, a fresh Fernet key."""
    return Settings(
        database_url=db_target.url,
        admin_token=ADMIN_TOKEN,
        einvoice_api_url=source.base_url,
        einvoice_app_id=APP_ID,
        einvoice_app_key=APP_KEY,
        einvoice_key=Fernet.generate_key().decode("ascii"),
    )


@pytest.fixture
def http(db: Database, clock: ManualClock, settings: Settings) -> Iterator[httpx.Client]:
    """An admin client of the real app served over HTTP, configured with ``settings``."""
    with serve(create_app(settings, db=db, clock=clock)) as base_url, client(base_url, ADMIN_TOKEN) as c:
        yield c


@pytest.fixture
def platform_http(source: HttpEInvoiceSource) -> Iterator[httpx.Client]:
    """The fake platform's own HTTP test controls (add invoices, void them)."""
    with client(source.base_url) as c:
        yield c


@dataclass(frozen=True)
class Shop:
    merchant_key: str
    campaign_id: int


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _partner_shop_with_2x(http: httpx.Client, clock: ManualClock, funded: int = 50_000) -> Shop:
    partner = _ok(
        http.post(
            "/v1/partners", json={"name": "Partner Mart", "kind": "merchant", "settlement_currency": "TWD"}
        ),
        201,
    )
    merchant = {
        "key": "partner-mart",
        "partner_id": partner["partner_id"],
        "name": "Partner Mart",
        "category": "grocery",
        "tax_ids": [PARTNER_TAX_ID],
        "rates": {"default": 200},
        "lock_period_days": LOCK_DAYS,
    }
    _ok(http.put("/v1/admin/catalog/merchants", json=merchant))
    now = clock.now_ns()
    campaign = _ok(
        http.put(
            "/v1/admin/catalog/campaigns",
            json={
                "key": "double-mart",
                "name": "2x zone at Partner Mart",
                "currency": "TWD",
                "multiplier_bps": 20_000,
                "starts_at_ns": now - DAY_S * 10**9,
                "ends_at_ns": now + 90 * DAY_S * 10**9,
                "budget_total": 100_000,
                "budget_mode": "pay_partial",
                "merchants": ["partner-mart"],
            },
        )
    )
    _ok(
        http.post(
            f"/v1/admin/catalog/campaigns/{campaign['campaign_id']}/fund",
            json={"amount": funded},
            headers={"Idempotency-Key": "fund-double-mart"},
        )
    )
    return Shop("partner-mart", campaign["campaign_id"])


def _user(http: httpx.Client, handle: str) -> dict[str, str]:
    token = _ok(http.post("/v1/users", json={"handle": handle}), 201)["token"]
    return {"Authorization": f"Bearer {token}"}


def _bind(
    http: httpx.Client, platform_http: httpx.Client, user: dict[str, str], barcode: str, code: str
) -> int:
    _ok(platform_http.post(f"{FAKE}/carriers", json={"barcode": barcode, "verification_code": code}), 204)
    body = {"barcode": barcode, "verification_code": code}
    return int(_ok(http.post("/v1/me/einvoice/carriers", json=body, headers=user), 201)["carrier_id"])


def _receipt(
    platform_http: httpx.Client, barcode: str, number: str, seller: str, dollars: int, day: date = INVOICE_DAY
) -> None:
    invoice = {
        "barcode": barcode,
        "invoice_number": number,
        "invoice_date": day.isoformat(),
        "seller_tax_id": seller,
        "seller_name": "商店",
        "amount": dollars,
    }
    _ok(platform_http.post(f"{FAKE}/invoices", json=invoice), 204)


def _wallet(http: httpx.Client, user: dict[str, str]) -> tuple[int, int, int]:
    w = _ok(http.get("/v1/me/wallets/TWD", headers=user))
    return w["pending"], w["available"], w["debt"]


def _carrier(http: httpx.Client, user: dict[str, str], carrier_id: int) -> dict[str, Any]:
    return dict(_ok(http.get(f"/v1/me/einvoice/carriers/{carrier_id}", headers=user)))


def _worker(db: Database, ledger: LedgerService, settings: Settings) -> None:
    run_sweeps(db, ledger, interval_s=1, once=True, settings=settings)


def test_partner_receipt_earns_2x_then_void_claws_back_base_and_bonus(
    http: httpx.Client,
    platform_http: httpx.Client,
    platform: FakePlatform,
    db: Database,
    ledger: LedgerService,
    clock: ManualClock,
    settings: Settings,
) -> None:
    shop = _partner_shop_with_2x(http, clock)
    alice = _user(http, "alice")
    carrier_id = _bind(http, platform_http, alice, BARCODE, CODE)
    _receipt(platform_http, BARCODE, "AB12345678", PARTNER_TAX_ID, 5_000)  # NT$5,000 at a partner
    _receipt(platform_http, BARCODE, "AB12345679", STRANGER_TAX_ID, 9_000)  # a stranger: earns nothing

    _worker(db, ledger, settings)
    base = 5_000 * 100 * 200 // 10_000  # 2 % of NT$5,000 in minor units
    assert _wallet(http, alice) == (2 * base, 0, 0)  # base + the 2x zone's bonus, pending
    receipts = _ok(http.get("/v1/me/einvoice/receipts", headers=alice))
    assert {r["invoice_number"] for r in receipts} == {"AB12345678", "AB12345679"}
    assert _carrier(http, alice, carrier_id)["last_sync_status"] == "ok"
    campaign = _ok(http.get(f"/v1/admin/catalog/campaigns/{shop.campaign_id}"))
    assert campaign["budget_remaining"] == 50_000 - base

    # Not due again before the interval: the worker leaves the platform alone.
    platform.requests.clear()
    _worker(db, ledger, settings)
    assert platform.requests == []

    # Past the merchant's lock period the worker confirms it: spendable.
    clock.advance(seconds=LOCK_DAYS * DAY_S + 60)
    _worker(db, ledger, settings)
    assert _wallet(http, alice) == (0, 2 * base, 0)

    # The partner voids the invoice; the next due sync claws back base and bonus.
    _ok(platform_http.post(f"{FAKE}/invoices/AB12345678/{INVOICE_DAY:%Y%m%d}/void"))
    clock.advance(seconds=INTERVAL_S + 1)
    _worker(db, ledger, settings)
    assert _wallet(http, alice) == (0, 0, 0)
    statuses = {
        r["invoice_number"]: r["status"] for r in _ok(http.get("/v1/me/einvoice/receipts", headers=alice))
    }
    assert statuses == {"AB12345678": "voided", "AB12345679": "issued"}
    history = _ok(http.get("/v1/me/wallets/TWD/history", headers=alice))
    assert sorted(e["amount"] for e in history if e["kind"] == "clawback") == [-base, -base]
    campaign = _ok(http.get(f"/v1/admin/catalog/campaigns/{shop.campaign_id}"))
    assert campaign["budget_remaining"] == 50_000  # the bonus went back to the campaign

    # Further sweeps change nothing (the void is applied once).
    clock.advance(seconds=INTERVAL_S + 1)
    _worker(db, ledger, settings)
    assert _wallet(http, alice) == (0, 0, 0)


@dataclass
class FailsFor:
    """The real platform client, except that calls for one barcode raise an unexpected error (a bug)."""

    inner: EInvoiceSource
    barcode: str

    def carrier_headers(self, barcode: str, code: str, start: date, end: date) -> list[InvoiceHeader]:
        if barcode == self.barcode:
            raise RuntimeError("unexpected")
        return self.inner.carrier_headers(barcode, code, start, end)

    def carrier_detail(self, barcode: str, code: str, number: str, day: date) -> InvoiceDetail:
        return self.inner.carrier_detail(barcode, code, number, day)


def test_failing_carriers_are_recorded_and_the_sweep_goes_on(
    http: httpx.Client,
    platform_http: httpx.Client,
    platform: FakePlatform,
    db: Database,
    ledger: LedgerService,
    clock: ManualClock,
    settings: Settings,
) -> None:
    _partner_shop_with_2x(http, clock)
    broken, rejected, healthy = _user(http, "bob"), _user(http, "carol"), _user(http, "dave")
    broken_id = _bind(http, platform_http, broken, "/BROKEN1", "code-b")
    rejected_id = _bind(http, platform_http, rejected, "/REJECT1", "code-r")
    healthy_id = _bind(http, platform_http, healthy, BARCODE, CODE)
    for barcode, number in (("/BROKEN1", "CD00000001"), ("/REJECT1", "CD00000002"), (BARCODE, "CD00000003")):
        _receipt(platform_http, barcode, number, PARTNER_TAX_ID, 1_000)
    _ok(
        platform_http.post(f"{FAKE}/carriers", json={"barcode": "/REJECT1", "verification_code": "changed"}),
        204,
    )
    sweep = CarrierSweep.from_settings(settings)
    assert sweep is not None
    faulty = replace(sweep, source=FailsFor(sweep.source, "/BROKEN1"))

    report = sync_einvoice(db, ledger, faulty, memory_engine())

    assert (report.synced, report.failed, report.credited) == (1, 2, 1)
    assert _wallet(http, healthy) == (2 * 2_000, 0, 0)  # base + 2x bonus for the healthy carrier
    bug = _carrier(http, broken, broken_id)
    assert (bug["status"], bug["last_sync_status"]) == ("active", "error")
    assert bug["last_error"] == "internal error (RuntimeError)"
    refused = _carrier(http, rejected, rejected_id)
    assert (refused["status"], refused["last_sync_status"]) == ("rejected", "error")
    assert refused["last_error"]
    assert _ok(http.get("/v1/me/einvoice/receipts", headers=broken)) == []

    # The platform goes down: every due carrier records it, the worker round completes.
    platform.down = True
    clock.advance(seconds=INTERVAL_S + 1)
    _worker(db, ledger, settings)
    assert "500" in (_carrier(http, healthy, healthy_id)["last_error"] or "")
    assert "500" in (_carrier(http, broken, broken_id)["last_error"] or "")

    # Back up: due carriers sync again; a rejected carrier waits for its user (no platform call).
    platform.down = False
    platform.requests.clear()
    clock.advance(seconds=INTERVAL_S + 1)
    _worker(db, ledger, settings)
    assert {r["cardNo"] for r in platform.requests} == {"/BROKEN1", BARCODE}
    assert _carrier(http, broken, broken_id)["last_sync_status"] == "ok"
    assert _wallet(http, broken) == (2 * 2_000, 0, 0)
    assert _carrier(http, healthy, healthy_id)["last_sync_status"] == "ok"
    assert _wallet(http, healthy) == (2 * 2_000, 0, 0)  # nothing earned twice
    assert _carrier(http, rejected, rejected_id)["status"] == "rejected"
