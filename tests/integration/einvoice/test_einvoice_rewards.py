"""E-invoice cashback: a receipt from a partner seller earns the merchant's rate; voiding reverses it;
receipts from other sellers earn nothing. SQLite and PostgreSQL, fake platform over real HTTP."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from sqlalchemy import text

from earnloop.auth.service import create_partner
from earnloop.catalog import service as catalog
from earnloop.db.engine import Database
from earnloop.einvoice.cipher import FernetCodeCipher
from earnloop.einvoice.fake_api import FakePlatform
from earnloop.einvoice.rewards import reward_receipts
from earnloop.einvoice.source import HttpEInvoiceSource
from earnloop.einvoice.sweep import CarrierSweep, SweepReport
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine, StaticStrategySource, memory_engine
from earnloop.risk.rules import Outcome, Rule, Strategy, compile_strategy
from earnloop.wallet import service
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.cashback.service import Funding
from earnloop.wallet.chart import AccountKind
from tests.integration.einvoice.test_einvoice import NOW_NS, TODAY, _bind, _invoice, _sync, _user

PARTNER_TAX_ID = "04595257"


def _partner_store(db: Database, lock_days: int = 0) -> None:
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
                "lock_period_days": lock_days,
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
        first = reward_receipts(conn, ledger, synced, risk=memory_engine())
        earned = service.view(conn, ledger, user_id, "TWD")
    platform.set_status("AB12345678", date(2026, 3, 1), "voided")
    resynced = _sync(db, source, cipher, carrier_id, TODAY)
    with db.uow() as conn:
        second = reward_receipts(conn, ledger, resynced, risk=memory_engine())
        after_void = service.view(conn, ledger, user_id, "TWD")
        entry = cashback.find(conn, "einvoice", "AB12345678:20260301")
    assert first == {"credited": 1, "reversed": 0, "bonuses": 0, "bonuses_reversed": 0, "denied": 0}
    assert earned.pending == 5_000 * 100 * 200 // 10_000  # NT$5,000 in minor units at 2 %
    assert second == {"credited": 0, "reversed": 1, "bonuses": 0, "bonuses_reversed": 0, "denied": 0}
    assert (after_void.pending, after_void.available) == (0, 0)
    assert entry is not None
    assert entry["status"] == "reversed"


def _campaign(db: Database, ledger: LedgerService, *, funded: int, mode: str) -> int:
    with db.uow() as conn:
        campaign = catalog.upsert_campaign(
            conn,
            {
                "key": "double-mart",
                "name": "2x zone",
                "currency": "TWD",
                "multiplier_bps": 20_000,
                "starts_at_ns": 0,
                "ends_at_ns": 1 << 62,
                "budget_total": 1_000_000,
                "budget_mode": mode,
                "merchants": ["partner-mart"],
            },
        )
        catalog.fund_campaign(conn, ledger, campaign["campaign_id"], funded, "fund")
    return int(campaign["campaign_id"])


def test_bonus_is_reversed_with_the_base_while_pending(
    db: Database,
    ledger: LedgerService,
    platform: FakePlatform,
    source: HttpEInvoiceSource,
    cipher: FernetCodeCipher,
) -> None:
    _partner_store(db, lock_days=30)
    campaign_id = _campaign(db, ledger, funded=50_000, mode="pay_partial")
    user_id = _user(db)
    carrier_id = _bind(db, source, cipher, user_id)
    platform.add_invoice(_invoice("AB12345678", date(2026, 3, 1), amount=1_000, seller=PARTNER_TAX_ID))
    synced = _sync(db, source, cipher, carrier_id, TODAY)
    with db.uow() as conn:
        first = reward_receipts(conn, ledger, synced, risk=memory_engine())
        earned = service.view(conn, ledger, user_id, "TWD")
        budget_after_earn = catalog.budget_remaining(conn, ledger, campaign_id, "TWD")
    platform.set_status("AB12345678", date(2026, 3, 1), "returned")
    resynced = _sync(db, source, cipher, carrier_id, TODAY)
    with db.uow() as conn:
        second = reward_receipts(conn, ledger, resynced, risk=memory_engine())
        after = service.view(conn, ledger, user_id, "TWD")
        budget_after_return = catalog.budget_remaining(conn, ledger, campaign_id, "TWD")
        bonus = cashback.find(conn, "einvoice", f"AB12345678:20260301:bonus:{campaign_id}")
    assert first == {"credited": 1, "reversed": 0, "bonuses": 1, "bonuses_reversed": 0, "denied": 0}
    assert (earned.pending, budget_after_earn) == (2 * 2_000, 50_000 - 2_000)
    assert second == {"credited": 0, "reversed": 1, "bonuses": 0, "bonuses_reversed": 1, "denied": 0}
    assert (after.pending, after.available, budget_after_return) == (0, 0, 50_000)
    assert bonus is not None
    assert bonus["status"] == "reversed"


@pytest.mark.parametrize(("mode", "bonus_paid"), [("pay_partial", 500), ("all_or_nothing", 0)])
def test_budget_drained_concurrently_does_not_fail_the_sync(
    db: Database,
    ledger: LedgerService,
    platform: FakePlatform,
    source: HttpEInvoiceSource,
    cipher: FernetCodeCipher,
    clock: ManualClock,
    mode: str,
    bonus_paid: int,
) -> None:
    """A competing reward takes most of the budget after this sync priced its bonus (PostgreSQL: it
    holds the ledger lock until the sync waits on it; SQLite serialises writers, so it simply comes
    first): the base is paid, the bonus is re-priced by the campaign's mode, the sync succeeds."""
    _partner_store(db)
    campaign_id = _campaign(db, ledger, funded=5_000, mode=mode)
    user_id, rival = _user(db), _user(db, "rival")
    _bind(db, source, cipher, user_id)
    platform.add_invoice(_invoice("AB12345678", date(2026, 3, 1), amount=1_000, seller=PARTNER_TAX_ID))
    clock.advance(ns=NOW_NS - clock.now_ns())  # the sweep's "today" is the clock's: TODAY
    sweep = CarrierSweep(source, cipher, interval_s=3600)
    outcome: list[SweepReport] = []
    worker = threading.Thread(target=lambda: outcome.append(sweep.run(db, ledger, memory_engine())))
    with db.uow() as conn:
        cashback.credit_pending(
            conn,
            ledger,
            source="promotion",
            ref="rival",
            user_id=rival,
            currency_code="TWD",
            amount=5_000 - 500,
            release_at_ns=0,
            funding=Funding(AccountKind.CAMPAIGN_BUDGET, campaign_id),
        )
        if not db.is_sqlite:
            worker.start()
            _wait_until_blocked_by(db, conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
    if db.is_sqlite:
        worker.start()
    worker.join(timeout=120)
    with db.uow(write=False) as conn:
        wallet = service.view(conn, ledger, user_id, "TWD")
        left = catalog.budget_remaining(conn, ledger, campaign_id, "TWD")
    assert [(r.synced, r.failed, r.credited) for r in outcome] == [(1, 0, 1)]
    assert wallet.pending == 2_000 + bonus_paid
    assert left == 500 - bonus_paid


def _wait_until_blocked_by(db: Database, blocker_pid: int) -> None:
    """Poll until another backend waits on a lock held by ``blocker_pid`` (PostgreSQL)."""
    query = text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    for _ in range(600):
        with db.uow(write=False) as probe:
            if probe.execute(query, {"pid": blocker_pid}).scalar_one() > 0:
                return
        time.sleep(0.05)
    pytest.fail("the sync never waited for the competing reward's ledger lock")


def _engine(outcome: Outcome) -> RiskEngine:
    rule = Rule("receipts", 'kind == "einvoice_receipt"', outcome, 100)
    strategy = Strategy(f"receipts-{outcome}", (rule,))
    return memory_engine(strategies=lambda fields: StaticStrategySource(compile_strategy(strategy, fields)))


@pytest.mark.parametrize("outcome", ["block", "review"])
def test_receipts_the_risk_engine_denies_pay_nothing_and_reviewed_ones_wait(
    db: Database,
    ledger: LedgerService,
    clock: ManualClock,
    platform: FakePlatform,
    source: HttpEInvoiceSource,
    cipher: FernetCodeCipher,
    outcome: Outcome,
) -> None:
    _partner_store(db)
    user_id = _user(db)
    carrier_id = _bind(db, source, cipher, user_id)
    platform.add_invoice(_invoice("AB12345678", date(2026, 3, 1), amount=5_000, seller=PARTNER_TAX_ID))
    synced = _sync(db, source, cipher, carrier_id, TODAY)
    with db.uow() as conn:
        done = reward_receipts(conn, ledger, synced, risk=_engine(outcome))
    clock.advance(seconds=86_400)  # the lock period (0 days) is over
    with db.uow() as conn:
        assert cashback.confirm_due(conn, ledger, clock.now_ns()) == 0
        found = cashback.find(conn, "einvoice", "AB12345678:20260301")
    if outcome == "block":  # nothing credited (not even a wallet opened)
        assert (done["denied"], done["credited"], found) == (1, 0, None)
    else:  # credited, still pending a day after its release
        assert (done["denied"], done["credited"]) == (0, 1)
        assert found is not None
        assert (found["status"], found["amount"]) == ("pending", 5_000 * 100 * 200 // 10_000)
