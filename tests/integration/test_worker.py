"""The worker's sweep expires pending transfers whose timeout has passed, exactly once; its e-invoice
sweep is configured like the API (off in production without a platform URL, refused without keys)."""

import pytest
from cryptography.fernet import Fernet

from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.einvoice.errors import EInvoiceConfigError
from earnloop.einvoice.sweep import CarrierSweep
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.results import CreateTransferStatus
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import AMOUNT_MAX, Account, AccountFlags, Transfer, TransferFlags
from earnloop.risk.engine import memory_engine
from earnloop.worker import run_sweeps, sweep_once, sync_einvoice


def test_sweep_releases_expired_reservations_once(
    db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    with db.uow() as conn:
        ledger.create_accounts(
            conn,
            [
                Account(id=1, ledger=1, code=1),
                Account(id=2, ledger=1, code=1, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS),
            ],
        )
        ledger.create_transfers(
            conn, [Transfer(id=1, debit_account_id=1, credit_account_id=2, amount=100, ledger=1, code=1)]
        )
        hold = Transfer(
            id=2,
            debit_account_id=2,
            credit_account_id=1,
            amount=80,
            ledger=1,
            code=1,
            flags=TransferFlags.PENDING,
            timeout=30,
        )
        assert ledger.create_transfers(conn, [hold])[0].status == CreateTransferStatus.CREATED
    clock.advance(seconds=29)
    assert sweep_once(db, ledger) == 0
    clock.advance(seconds=2)  # the hold's timestamp is a few ns after the clock's reading
    assert sweep_once(db, ledger) == 1
    assert sweep_once(db, ledger) == 0
    with db.uow() as conn:
        (account,) = ledger.lookup_accounts(conn, [2])
        post = Transfer(id=3, pending_id=2, amount=AMOUNT_MAX, flags=TransferFlags.POST_PENDING_TRANSFER)
        result = ledger.create_transfers(conn, [post])
    assert (account.debits_pending, account.credits_posted) == (0, 100)
    assert result[0].status == CreateTransferStatus.PENDING_TRANSFER_EXPIRED


def test_einvoice_sweep_is_off_in_production_without_a_platform(db: Database, ledger: LedgerService) -> None:
    production = Settings(
        environment="production",
        payout_provider_url="http://127.0.0.1:9/payouts",
        secrets_keys=Fernet.generate_key().decode(),  # production requires the keys of stored secrets
    )
    assert CarrierSweep.from_settings(production) is None
    assert sync_einvoice(db, ledger, None, memory_engine()).attempted == 0
    run_sweeps(db, ledger, interval_s=1, once=True, settings=production)  # the other sweeps still run


def test_worker_refuses_to_start_in_production_without_einvoice_keys(
    db: Database, ledger: LedgerService
) -> None:
    production = Settings(
        environment="production",
        payout_provider_url="http://127.0.0.1:9/payouts",
        einvoice_api_url="https://api.einvoice.example",
    )
    with pytest.raises(EInvoiceConfigError, match="must be set when EARNLOOP_ENVIRONMENT=production"):
        run_sweeps(db, ledger, interval_s=1, once=True, settings=production)
