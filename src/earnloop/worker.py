"""Scheduled sweeps: expire pending transfers whose timeout has passed (TigerBeetle's pulse), confirm
cashback whose release time has come, sync e-invoice carriers that are due (``einvoice/sweep.py``), and
the others below.

Safe to run many at once: each batch takes the ledger lock in its own transaction, and a reward is
confirmed by posting its pending transfer, which succeeds exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from earnloop.config import Settings, get_settings
from earnloop.db.engine import Database
from earnloop.einvoice.sweep import CarrierSweep, SweepReport
from earnloop.ledger.service import LedgerService
from earnloop.outbox import delivery as webhook_delivery
from earnloop.outbox.targets import TargetGuard
from earnloop.risk.engine import RiskEngine, build_engine
from earnloop.secretbox import SecretBox, box_from_settings
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.credit_line import statements as credit_statements
from earnloop.wallet.credit_line.terms import Terms as CreditTerms
from earnloop.wallet.escrow import service as escrow
from earnloop.wallet.holds import expiry as hold_expiry
from earnloop.wallet.pay import service as pay
from earnloop.wallet.withdrawals import service as withdrawals_flow
from earnloop.wallet.withdrawals.payouts import PayoutProvider, provider_from_settings

log = structlog.get_logger("earnloop.worker")


def sweep_once(db: Database, ledger: LedgerService) -> int:
    """Expire due pending transfers, one batch per transaction, until none is due. Returns the count."""
    total = 0
    while True:
        with db.uow() as conn:
            expired = ledger.expire_pending_transfers(conn)
        total += expired
        if expired == 0:
            return total


def confirm_cashback(db: Database, ledger: LedgerService) -> int:
    """Confirm every reward whose release time has passed, one batch per transaction."""
    total = 0
    while True:
        with db.uow() as conn:
            confirmed = cashback.confirm_due(conn, ledger, ledger.clock.now_ns())
        total += confirmed
        if confirmed < cashback.CONFIRM_BATCH_MAX:
            return total


def escrow_timeouts(db: Database, ledger: LedgerService) -> int:
    """Close unpaid trades past their pay deadline and release trades past their confirm deadline."""
    total = 0
    while True:
        with db.uow() as conn:
            changed = escrow.sweep_timeouts(conn, ledger, ledger.clock.now_ns())
        total += changed
        if changed == 0:
            return total


def expire_holds(db: Database, ledger: LedgerService) -> int:
    """Record deposit holds whose expiry passed as ``expired`` (the ledger released their money)."""
    total = 0
    while True:
        with db.uow() as conn:
            expired = hold_expiry.mark_expired(conn, ledger, ledger.clock.now_ns())
        total += expired
        if expired == 0:
            return total


def credit_statements_due(db: Database, ledger: LedgerService) -> int:
    """Close credit-line periods that ended into statements, then turn statements past their due date
    overdue (their unpaid amount becomes debt) or carried (minimum paid)."""
    terms, total = CreditTerms.from_settings(), 0
    while True:
        with db.uow() as conn:
            now = ledger.clock.now_ns()
            changed = credit_statements.close_due(conn, ledger, now, terms)
            changed += credit_statements.mark_overdue(conn, ledger, now)
        total += changed
        if changed == 0:
            return total


def deliver_webhooks(
    db: Database, ledger: LedgerService, *, guard: TargetGuard, box: SecretBox
) -> webhook_delivery.DeliveryReport:
    """Fan new outbox events out to partners' endpoints, then send every due webhook (signed, retried)
    to the addresses ``guard`` allows."""
    now = ledger.clock.now_ns()
    webhook_delivery.relay(db, now)
    return webhook_delivery.deliver_due(db, now, guard=guard, box=box)


def resolve_withdrawals(
    db: Database,
    ledger: LedgerService,
    provider: PayoutProvider | None = None,
    settings: Settings | None = None,
    box: SecretBox | None = None,
) -> withdrawals_flow.ResolveReport:
    """Ask the payout provider about withdrawals whose outcome is unknown (or stale) and apply it."""
    settings = settings or get_settings()
    return withdrawals_flow.resolve_unknown(
        db,
        ledger,
        provider or provider_from_settings(settings),
        stale_after_ns=settings.payout_stale_after_s * 1_000_000_000,
        box=box or box_from_settings(settings),
    )


def expire_orders(db: Database, ledger: LedgerService) -> int:
    """Mark unpaid merchant orders past their expiry as expired."""
    with db.uow() as conn:
        return pay.expire_due_orders(conn, ledger.clock.now_ns())


def sync_einvoice(
    db: Database, ledger: LedgerService, carriers: CarrierSweep | None, risk: RiskEngine
) -> SweepReport:
    """Sync and reward every bound carrier not synced for ``EARNLOOP_EINVOICE_SYNC_INTERVAL_S``; a
    failing carrier is recorded on its sync status and the others go on. ``None``: e-invoice is off."""
    return SweepReport() if carriers is None else carriers.run(db, ledger, risk)


def run_sweeps(
    db: Database, ledger: LedgerService, *, interval_s: int, once: bool, settings: Settings | None = None
) -> None:
    """Run every sweep, log what each did, sleep, repeat (or stop after one round when ``once``).
    The e-invoice platform is configured once, at start (a production misconfiguration fails here)."""
    settings = settings or get_settings()
    carriers = CarrierSweep.from_settings(settings)
    risk = build_engine(settings, db=db)
    try:
        _run_rounds(
            db, ledger, interval_s=interval_s, once=once, settings=settings, carriers=carriers, risk=risk
        )
    finally:
        if carriers is not None:
            carriers.close()


def _run_rounds(
    db: Database,
    ledger: LedgerService,
    *,
    interval_s: int,
    once: bool,
    settings: Settings,
    carriers: CarrierSweep | None,
    risk: RiskEngine,
) -> None:
    counted: dict[str, Callable[[Database, LedgerService], int]] = {
        "pending_transfers_expired": sweep_once,
        "cashback_confirmed": confirm_cashback,
        "escrow_timeouts_applied": escrow_timeouts,
        "deposit_holds_expired": expire_holds,
        "orders_expired": expire_orders,
        "credit_statements_changed": credit_statements_due,
    }
    guard, box = TargetGuard.from_settings(settings), box_from_settings(settings)
    while True:
        for event, sweep in counted.items():
            count = sweep(db, ledger)
            if count:
                log.info(event, count=count)
        webhooks = deliver_webhooks(db, ledger, guard=guard, box=box)
        if webhooks.attempted:
            log.info(
                "webhooks_sent", delivered=webhooks.delivered, retrying=webhooks.retrying, dead=webhooks.dead
            )
        payouts = resolve_withdrawals(db, ledger, settings=settings, box=box)
        if payouts.examined:
            log.info("withdrawals_resolved", **payouts.as_dict())
        einvoice = sync_einvoice(db, ledger, carriers, risk)
        if einvoice.attempted:
            log.info("einvoice_carriers_synced", **einvoice.as_dict())
        if once:
            return
        time.sleep(interval_s)
