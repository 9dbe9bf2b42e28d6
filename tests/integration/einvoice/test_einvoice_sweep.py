"""The e-invoice sweep under concurrency and the reward invariants, on SQLite and PostgreSQL, against the
fake platform over real HTTP: concurrent sweeps sync each carrier once; for any receipts and budget,
bonuses never exceed the budget nor the 2x of their base, and voids give every bonus back."""

from __future__ import annotations

import threading
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from earnloop.catalog import service as catalog
from earnloop.db.engine import Database
from earnloop.earn.bonuses import bonus_ref
from earnloop.einvoice import service as einvoice
from earnloop.einvoice.cipher import FernetCodeCipher
from earnloop.einvoice.fake_api import FakeInvoice, FakePlatform
from earnloop.einvoice.rewards import reward_receipts
from earnloop.einvoice.service import reward_ref
from earnloop.einvoice.source import HttpEInvoiceSource
from earnloop.einvoice.sweep import CarrierSweep, SweepReport
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import memory_engine
from earnloop.wallet import service
from earnloop.wallet.cashback import service as cashback
from tests.conftest import DbTarget, reset_ledger
from tests.integration.einvoice.test_einvoice import BARCODE, CODE, NOW_NS, _bind, _invoice, _sync, _user
from tests.integration.einvoice.test_einvoice_rewards import PARTNER_TAX_ID, _campaign, _partner_store
from tests.integration.ledger_invariants import check_ledger_invariants

DAY = date(2026, 3, 1)


def test_concurrent_sweeps_sync_each_carrier_once(
    db: Database,
    ledger: LedgerService,
    clock: ManualClock,
    platform: FakePlatform,
    source: HttpEInvoiceSource,
    cipher: FernetCodeCipher,
) -> None:
    _partner_store(db)
    barcodes = [BARCODE, "/CARRIE2", "/CARRIE3", "/CARRIE4"]
    users = [_user(db, f"user{n}") for n in range(len(barcodes))]
    for n, (user_id, barcode) in enumerate(zip(users, barcodes, strict=True)):
        platform.add_carrier(barcode, CODE)
        platform.add_invoice(FakeInvoice(barcode, f"AB0000000{n}", DAY, PARTNER_TAX_ID, "Shop", 1_000))
        with db.uow() as conn:
            einvoice.bind_carrier(
                conn,
                source,
                cipher,
                user_id=user_id,
                barcode=barcode,
                verification_code=CODE,
                today=DAY,
                now_ns=NOW_NS,
            )
    clock.advance(ns=NOW_NS - clock.now_ns())
    sweep = CarrierSweep(source, cipher, interval_s=3600)
    reports: list[SweepReport] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        reports.append(sweep.run(db, ledger, memory_engine()))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sum(r.synced for r in reports) == len(barcodes)
    assert sum(r.failed for r in reports) == 0
    assert sum(r.credited for r in reports) == len(barcodes)
    details = [r["invNum"] for r in platform.requests if r["action"] == "carrierInvDetail"]
    assert sorted(details) == sorted(f"AB0000000{n}" for n in range(len(barcodes)))  # each fetched once
    with db.uow(write=False) as conn:
        assert [service.view(conn, ledger, u, "TWD").pending for u in users] == [2_000] * len(users)


receipts_strategy = st.lists(
    st.tuples(st.booleans(), st.integers(1, 20_000), st.booleans()),  # partner?, NT$, voided later?
    min_size=1,
    max_size=6,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    receipts=receipts_strategy,
    funded=st.integers(1, 60_000),
    mode=st.sampled_from(["pay_partial", "all_or_nothing"]),
)
def test_bonuses_stay_within_budget_and_voids_give_them_back(
    db_target: DbTarget,
    ledger: LedgerService,
    platform: FakePlatform,
    source: HttpEInvoiceSource,
    cipher: FernetCodeCipher,
    receipts: list[tuple[bool, int, bool]],
    funded: int,
    mode: str,
) -> None:
    db = db_target.open()
    try:
        reset_ledger(db)
        platform.invoices.clear()
        _partner_store(db)
        campaign_id = _campaign(db, ledger, funded=funded, mode=mode)
        user_id = _user(db)
        with db.uow() as conn:
            service.open_wallet(conn, ledger, user_id, "TWD")
        carrier_id = _bind(db, source, cipher, user_id)
        numbers = [f"AB1000000{n}" for n in range(len(receipts))]
        for number, (partner, dollars, _) in zip(numbers, receipts, strict=True):
            platform.add_invoice(
                _invoice(number, DAY, amount=dollars, seller=PARTNER_TAX_ID if partner else "12345678")
            )
        earned = _sync_and_reward(db, ledger, source, cipher, carrier_id)
        paid = {n: _amounts(db, campaign_id, n) for n in numbers}
        bases = [base for base, _ in paid.values() if base]
        bonuses = [bonus for _, bonus in paid.values()]
        assert earned == sum(base + bonus for base, bonus in paid.values())
        assert [bool(base) for base, _ in paid.values()] == [partner for partner, _, _ in receipts]
        assert all(bonus <= base for base, bonus in paid.values())
        if mode == "pay_partial":
            assert sum(bonuses) == min(funded, sum(bases))
        else:
            assert sum(bonuses) <= funded
            assert all(bonus in (0, base) for base, bonus in paid.values())
        for number, (_, _, voided) in zip(numbers, receipts, strict=True):
            if voided:
                platform.set_status(number, DAY, "voided")
        after = _sync_and_reward(db, ledger, source, cipher, carrier_id)
        kept = [paid[n] for n, (_, _, voided) in zip(numbers, receipts, strict=True) if not voided]
        assert after == sum(base + bonus for base, bonus in kept)
        with db.uow(write=False) as conn:
            left = catalog.budget_remaining(conn, ledger, campaign_id, "TWD")
        assert left == funded - sum(bonus for _, bonus in kept)
        check_ledger_invariants(db)
    finally:
        db.dispose()


def _sync_and_reward(
    db: Database, ledger: LedgerService, source: HttpEInvoiceSource, cipher: FernetCodeCipher, carrier_id: int
) -> int:
    """Sync, reward, and return the user's pending cashback."""
    result = _sync(db, source, cipher, carrier_id)
    assert result["status"] == "ok"
    with db.uow() as conn:
        reward_receipts(conn, ledger, result, risk=memory_engine())
        return service.view(conn, ledger, int(result["user_id"]), "TWD").pending


def _amounts(db: Database, campaign_id: int, number: str) -> tuple[int, int]:
    """(base, bonus) credited on a receipt (0 when none)."""
    ref = reward_ref(number, DAY)
    with db.uow(write=False) as conn:
        base = cashback.find(conn, "einvoice", ref)
        bonus = cashback.find(conn, "einvoice", bonus_ref(ref, campaign_id))
    return (base["amount"] if base else 0), (bonus["amount"] if bonus else 0)
