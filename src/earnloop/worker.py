"""Scheduled sweeps: expire pending transfers whose timeout has passed (TigerBeetle's pulse) and
confirm cashback whose release time has come.

Safe to run many at once: each batch takes the ledger lock in its own transaction, and a reward is
confirmed by posting its pending transfer, which succeeds exactly once.
"""

from __future__ import annotations

import time

import structlog

from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService
from earnloop.wallet import cashback

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


def run_sweeps(db: Database, ledger: LedgerService, *, interval_s: int, once: bool) -> None:
    while True:
        expired = sweep_once(db, ledger)
        if expired:
            log.info("pending_transfers_expired", count=expired)
        confirmed = confirm_cashback(db, ledger)
        if confirmed:
            log.info("cashback_confirmed", count=confirmed)
        if once:
            return
        time.sleep(interval_s)
