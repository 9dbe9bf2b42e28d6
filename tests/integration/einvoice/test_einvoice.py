"""E-invoice carriers: binding, sync against the fake platform over real HTTP, HTTP API (SQLite + PG)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from earnloop.auth import service as auth
from earnloop.db.engine import Database
from earnloop.einvoice import service
from earnloop.einvoice.cipher import FernetCodeCipher
from earnloop.einvoice.errors import CarrierRejectedError, CarrierTakenError, InvalidBarcodeError
from earnloop.einvoice.fake_api import FakeInvoice, FakePlatform, create_fake_app
from earnloop.einvoice.models import einvoice_carriers, einvoice_receipts
from earnloop.einvoice.source import INV_SERV_PATH, HttpEInvoiceSource, SourceError
from tests.live_server import serve

APP_ID, APP_KEY = "EINV-TEST", "test-app-key-0123456789"
BARCODE, CODE = "/AB12+.-", "s3cret1"
TODAY = date(2026, 3, 10)
NOW_NS = 1_773_100_000 * 1_000_000_000


@pytest.fixture
def platform() -> FakePlatform:
    fake = FakePlatform()
    fake.add_app(APP_ID, APP_KEY)
    fake.add_carrier(BARCODE, CODE)
    return fake


@pytest.fixture
def source(platform: FakePlatform) -> Iterator[HttpEInvoiceSource]:
    with serve(create_fake_app(platform)) as base_url:
        client = HttpEInvoiceSource(base_url, app_id=APP_ID, app_key=APP_KEY, timeout_s=10)
        yield client
        client.close()


@pytest.fixture
def cipher() -> FernetCodeCipher:
    return FernetCodeCipher(Fernet.generate_key())


def _user(db: Database, handle: str = "alice") -> int:
    with db.uow() as conn:
        return auth.create_user(conn, handle).id


def _invoice(number: str, day: date, amount: int = 120, seller: str = "12345678") -> FakeInvoice:
    return FakeInvoice(BARCODE, number, day, seller, "Shop 店", amount)


def _count(db: Database, table: Any) -> int:
    with db.uow(write=False) as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _bind(db: Database, source: HttpEInvoiceSource, cipher: FernetCodeCipher, user_id: int) -> int:
    with db.uow() as conn:
        carrier = service.bind_carrier(
            conn,
            source,
            cipher,
            user_id=user_id,
            barcode=BARCODE,
            verification_code=CODE,
            today=TODAY,
            now_ns=NOW_NS,
        )
    return int(carrier["carrier_id"])


def _sync(
    db: Database, source: HttpEInvoiceSource, cipher: FernetCodeCipher, carrier_id: int, today: date = TODAY
) -> dict[str, Any]:
    with db.uow() as conn:
        return service.sync_carrier(conn, source, carrier_id, today, cipher=cipher, now_ns=NOW_NS)


def test_bind_rejects_bad_format_and_wrong_code(
    db: Database, source: HttpEInvoiceSource, cipher: FernetCodeCipher
) -> None:
    user_id = _user(db)
    for bad in ("AB12345", "/ab1234", "/AB1234", "/AB12345!", "/AB_1234"):
        with pytest.raises(InvalidBarcodeError), db.uow() as conn:
            service.bind_carrier(
                conn,
                source,
                cipher,
                user_id=user_id,
                barcode=bad,
                verification_code=CODE,
                today=TODAY,
                now_ns=NOW_NS,
            )
    with pytest.raises(CarrierRejectedError), db.uow() as conn:
        service.bind_carrier(
            conn,
            source,
            cipher,
            user_id=user_id,
            barcode=BARCODE,
            verification_code="wrong-code",
            today=TODAY,
            now_ns=NOW_NS,
        )
    assert _count(db, einvoice_carriers) == 0


def test_bind_stores_code_encrypted_and_once(
    db: Database, source: HttpEInvoiceSource, cipher: FernetCodeCipher
) -> None:
    user_id = _user(db)
    _bind(db, source, cipher, user_id)
    with db.uow(write=False) as conn:
        stored = conn.execute(select(einvoice_carriers.c.code_encrypted)).scalar_one()
    assert CODE not in stored
    assert cipher.decrypt(stored) == CODE
    other = _user(db, "bob")
    with pytest.raises(CarrierTakenError):
        _bind(db, source, cipher, other)
    assert _count(db, einvoice_carriers) == 1


def test_sync_incremental_dedupe_void_and_return(
    db: Database, platform: FakePlatform, source: HttpEInvoiceSource, cipher: FernetCodeCipher
) -> None:
    user_id = _user(db)
    carrier_id = _bind(db, source, cipher, user_id)
    platform.add_invoice(_invoice("AB00000001", date(2026, 2, 20), 120))
    platform.add_invoice(_invoice("AB00000002", date(2026, 3, 9), 75, seller="87654321"))
    first = _sync(db, source, cipher, carrier_id)
    assert first["status"] == "ok"
    assert {(r["invoice_number"], r["amount"], r["seller_tax_id"]) for r in first["new"]} == {
        ("AB00000001", 12000, "12345678"),
        ("AB00000002", 7500, "87654321"),
    }
    details_before = sum(1 for r in platform.requests if r["action"] == "carrierInvDetail")
    # same data again: nothing new, no detail fetched again (dedupe on number + date)
    platform.requests.clear()
    again = _sync(db, source, cipher, carrier_id, date(2026, 3, 12))
    assert again["new"] == []
    assert again["reversed"] == []
    assert not any(r["action"] == "carrierInvDetail" for r in platform.requests)
    assert details_before == 2
    # incremental window: from last_synced_date - RECHECK_DAYS
    starts = [r["startDate"] for r in platform.requests if r["action"] == "carrierInvChk"]
    assert starts[0] == "2026/01/09"  # 2026-03-10 minus 60 days
    # a void and a return are detected once
    platform.add_invoice(_invoice("AB00000003", date(2026, 3, 12), 50))
    platform.set_status("AB00000001", date(2026, 2, 20), "voided")
    platform.set_status("AB00000002", date(2026, 3, 9), "returned")
    third = _sync(db, source, cipher, carrier_id, date(2026, 3, 13))
    assert [r["invoice_number"] for r in third["new"]] == ["AB00000003"]
    assert {(r["invoice_number"], r["status"]) for r in third["reversed"]} == {
        ("AB00000001", "voided"),
        ("AB00000002", "returned"),
    }
    assert _sync(db, source, cipher, carrier_id, date(2026, 3, 13))["reversed"] == []
    with db.uow(write=False) as conn:
        rows = service.receipts_for(conn, user_id)
    assert [(r["invoice_number"], r["status"]) for r in rows] == [
        ("AB00000003", "issued"),
        ("AB00000002", "returned"),
        ("AB00000001", "voided"),
    ]
    assert _count(db, einvoice_receipts) == 3


def test_source_failure_is_recorded_not_raised(
    db: Database, platform: FakePlatform, source: HttpEInvoiceSource, cipher: FernetCodeCipher
) -> None:
    user_id = _user(db)
    carrier_id = _bind(db, source, cipher, user_id)
    platform.add_invoice(_invoice("AB00000001", date(2026, 3, 1)))
    platform.down = True
    result = _sync(db, source, cipher, carrier_id)
    assert result["status"] == "error"
    assert "500" in result["error"]
    with db.uow(write=False) as conn:
        carrier = service.carrier_for_user(conn, user_id, carrier_id)
    assert carrier["last_sync_status"] == "error"
    assert carrier["last_synced_date"] is None
    assert _count(db, einvoice_receipts) == 0
    platform.down = False
    platform.carriers[BARCODE] = "changed"  # the user changed the code at the platform
    rejected = _sync(db, source, cipher, carrier_id)
    assert rejected["status"] == "error"
    with db.uow(write=False) as conn:
        assert service.carrier_for_user(conn, user_id, carrier_id)["status"] == "rejected"
    platform.carriers[BARCODE] = CODE
    ok = _sync(db, source, cipher, carrier_id)
    assert ok["status"] == "ok"
    assert len(ok["new"]) == 1
    with db.uow(write=False) as conn:
        carrier = service.carrier_for_user(conn, user_id, carrier_id)
    assert carrier["status"] == "active"
    assert carrier["last_error"] is None
    assert carrier["last_synced_date"] == TODAY.isoformat()


def test_fake_rejects_tampered_or_unsigned_requests(
    platform: FakePlatform, source: HttpEInvoiceSource
) -> None:
    params = source.signed_params(
        "carrierInvChk",
        BARCODE,
        CODE,
        {"startDate": "2026/03/01", "endDate": "2026/03/10", "onlyWinningInv": "N"},
    )
    url = source.base_url + INV_SERV_PATH
    assert httpx.post(url, data=params).json()["code"] == 200
    assert httpx.post(url, data={**params, "endDate": "2026/03/31"}).json()["code"] == 401
    assert httpx.post(url, data={**params, "signature": "AAAA"}).json()["code"] == 401
    unsigned = {k: v for k, v in params.items() if k != "signature"}
    assert httpx.post(url, data=unsigned).json()["code"] == 401
    wrong_key = HttpEInvoiceSource(source.base_url, app_id=APP_ID, app_key="another-key", timeout_s=5)
    with pytest.raises(SourceError):
        wrong_key.carrier_headers(BARCODE, CODE, TODAY, TODAY)


def test_http_api(api: httpx.Client, db: Database) -> None:
    created = api.post("/v1/users", json={"handle": "carol"})
    assert created.status_code in (200, 201), created.text
    token = created.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    fake = "/fake-einvoice/_fake"
    assert (
        api.post(f"{fake}/carriers", json={"barcode": BARCODE, "verification_code": CODE}).status_code == 204
    )
    bad = api.post(
        "/v1/me/einvoice/carriers", json={"barcode": "/bad", "verification_code": CODE}, headers=headers
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    wrong = api.post(
        "/v1/me/einvoice/carriers", json={"barcode": BARCODE, "verification_code": "nope1"}, headers=headers
    )
    assert wrong.status_code == 422
    assert wrong.json()["type"].endswith("carrier-rejected")
    assert _count(db, einvoice_carriers) == 0
    bound = api.post(
        "/v1/me/einvoice/carriers", json={"barcode": BARCODE, "verification_code": CODE}, headers=headers
    )
    assert bound.status_code == 201, bound.text
    carrier_id = bound.json()["carrier_id"]
    assert "verification_code" not in bound.json()
    # ManualClock starts at 2023-11-14 (Asia/Taipei)
    invoice = {
        "barcode": BARCODE,
        "invoice_number": "ZZ12345678",
        "invoice_date": "2023-11-10",
        "seller_tax_id": "22555003",
        "seller_name": "超商",
        "amount": 350,
    }
    assert api.post(f"{fake}/invoices", json=invoice).status_code == 204
    synced = api.post(f"/v1/me/einvoice/carriers/{carrier_id}/sync", headers=headers)
    assert synced.status_code == 200, synced.text
    assert [r["amount"] for r in synced.json()["new"]] == [35000]
    assert api.put(f"{fake}/outage", json={"down": True}).status_code == 204
    failed = api.post(f"/v1/me/einvoice/carriers/{carrier_id}/sync", headers=headers).json()
    assert failed["status"] == "error"
    assert failed["carrier"]["last_error"]
    carriers = api.get("/v1/me/einvoice/carriers", headers=headers).json()
    assert carriers[0]["last_sync_status"] == "error"
    assert carriers[0]["last_error"]
    receipts = api.get("/v1/me/einvoice/receipts", headers=headers).json()
    assert [r["invoice_number"] for r in receipts] == ["ZZ12345678"]
    other = api.post("/v1/users", json={"handle": "dave"}).json()["token"]
    hidden = api.post(
        f"/v1/me/einvoice/carriers/{carrier_id}/sync", headers={"Authorization": f"Bearer {other}"}
    )
    assert hidden.status_code == 404
