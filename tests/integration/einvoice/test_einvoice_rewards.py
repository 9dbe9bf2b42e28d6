"""E-invoice cashback: a receipt from a partner seller earns the merchant's rate; voiding reverses it;
receipts from other sellers earn nothing. SQLite and PostgreSQL, fake platform over real HTTP."""

from __future__ import annotations

from datetime import date

from earnloop.auth.service import create_partner
from earnloop.catalog import service as catalog
from earnloop.db.engine import Database
from earnloop.einvoice.cipher import FernetCodeCipher
from earnloop.einvoice.fake_api import FakePlatform
from earnloop.einvoice.rewards import reward_receipts
from earnloop.einvoice.source import HttpEInvoiceSource
from earnloop.ledger.service import LedgerService
from earnloop.wallet import cashback, service
from tests.integration.einvoice.test_einvoice import TODAY, _bind, _invoice, _sync, _user

PARTNER_TAX_ID = "04595257"


def _partner_store(db: Database) -> None:
    with db.uow() as conn:
        partner = create_partner(conn, "Partner Mart", "merchant", "TWD").id
        catalog.upsert_merchant(
            conn,
            {
                "key": "partner-mart",
                "partner_id": partner,
                "name": "Partner Mart",
                "category": "grocery",
                "tax_ids": [PARTNER_TAX_ID],
                "rates": {"default": 200},
                "lock_period_days": 0,
            },
        )


def test_partner_receipts_earn_and_voids_reverse(
    db: Database,
    ledger: LedgerService,
    platform: FakePlatform,
    source: HttpEInvoiceSource,
    cipher: FernetCodeCipher,
) -> None:
    _partner_store(db)
    user_id = _user(db)
    carrier_id = _bind(db, source, cipher, user_id)
    platform.add_invoice(_invoice("AB12345678", date(2026, 3, 1), amount=5_000, seller=PARTNER_TAX_ID))
    platform.add_invoice(_invoice("AB12345679", date(2026, 3, 2), amount=9_000, seller="12345678"))
    synced = _sync(db, source, cipher, carrier_id, TODAY)
    with db.uow() as conn:
        first = reward_receipts(conn, ledger, synced)
        earned = service.view(conn, ledger, user_id, "TWD")
    platform.set_status("AB12345678", date(2026, 3, 1), "voided")
    resynced = _sync(db, source, cipher, carrier_id, TODAY)
    with db.uow() as conn:
        second = reward_receipts(conn, ledger, resynced)
        after_void = service.view(conn, ledger, user_id, "TWD")
        entry = cashback.find(conn, "einvoice", "AB12345678:20260301")
    assert first == {"credited": 1, "reversed": 0}
    assert earned.pending == 5_000 * 100 * 200 // 10_000  # NT$5,000 in minor units at 2 %
    assert second == {"credited": 0, "reversed": 1}
    assert (after_void.pending, after_void.available) == (0, 0)
    assert entry is not None
    assert entry["status"] == "reversed"
