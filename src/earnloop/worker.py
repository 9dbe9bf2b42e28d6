"""Scheduled sweeps. For now: expire pending transfers whose timeout has passed (TigerBeetle's pulse).

Safe to run many at once: each sweep takes the ledger lock, so two sweeps never expire the same transfer.
"""

from __future__ import annotations

import time

import structlog

from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService

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


def run_sweeps(db: Database, ledger: LedgerService, *, interval_s: int, once: bool) -> None:
    while True:
        expired = sweep_once(db, ledger)
        if expired:
            log.info("pending_transfers_expired", count=expired)
        if once:
            return
        time.sleep(interval_s)
