"""A contended ledger workload, run by many threads or processes at once (test_ledger_concurrency).

Every worker spends from the same few accounts that carry ``debits_must_not_exceed_credits``: single
transfers, linked chains, pending transfers that it later posts (in full or in part) or voids, and the odd
refill. It records each event it sent with the result it got, so that the test can recompute every
balance from what the workers were told and compare it with the database.

Kept light (no pytest import) so that worker processes start fast.
"""

from __future__ import annotations

import random
import traceback
from dataclasses import dataclass
from typing import Any

from earnloop.db.engine import Database, make_database
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.results import CreateTransferStatus
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import AMOUNT_MAX, Account, AccountFlags, Transfer, TransferFlags

S = CreateTransferStatus
F = TransferFlags
DMNEC = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS

# ledger -> (bank, spenders, sink)
LEDGERS = {1: (1, (10, 11, 12), 20), 2: (2, (30, 31), 40)}
INITIAL_FUNDS = 400
# What the forkserver imports once, so that each forked worker starts in milliseconds.
FORKSERVER_PRELOAD = [
    "tests.integration.ledger_workload",
    "tests.integration.ledger_crash_child",
    "psycopg",
    "sqlalchemy.dialects.postgresql.psycopg",
    "sqlalchemy.dialects.sqlite.pysqlite",
]


def pool_accounts() -> list[Account]:
    accounts = []
    for ledger, (bank, spenders, sink) in LEDGERS.items():
        accounts.append(Account(id=bank, ledger=ledger, code=1))
        accounts.append(Account(id=sink, ledger=ledger, code=1))
        accounts.extend(Account(id=s, ledger=ledger, code=1, flags=DMNEC) for s in spenders)
    return accounts


def funding_transfers() -> list[Transfer]:
    return [
        Transfer(
            id=900_000 + s,
            debit_account_id=bank,
            credit_account_id=s,
            amount=INITIAL_FUNDS,
            ledger=lg,
            code=1,
        )
        for lg, (bank, spenders, _) in LEDGERS.items()
        for s in spenders
    ]


@dataclass(frozen=True)
class Sent:
    """One event a worker sent and the status it got; ``chain`` numbers linked chains (0: none)."""

    transfer: Transfer
    status: int
    chain: int


def run_worker(db: Database, index: int, batches: int, seed: int) -> list[Sent]:
    rng = random.Random(seed * 1000 + index)
    ledger = LedgerService(SystemClock())
    sent: list[Sent] = []
    next_id = (index + 1) * 1_000_000
    chains = (index + 1) * 100_000  # chain numbers unique across workers
    open_pending: list[Transfer] = []

    def fresh() -> int:
        nonlocal next_id
        next_id += 1
        return next_id

    def spend(lg: int, amount: int, flags: int = 0) -> Transfer:
        _, spenders, sink = LEDGERS[lg]
        dr = rng.choice(spenders)
        cr = sink if rng.random() < 0.8 else rng.choice([s for s in spenders if s != dr])
        return Transfer(fresh(), dr, cr, amount, ledger=lg, code=2, flags=flags)

    for _ in range(batches):
        lg = rng.choice((1, 1, 2))
        batch: list[Transfer] = []
        chain_of: list[int] = []
        op = rng.random()
        if open_pending and op < 0.3:
            p = open_pending.pop(rng.randrange(len(open_pending)))
            choice = rng.random()
            if choice < 0.4:
                batch.append(
                    Transfer(fresh(), pending_id=p.id, amount=AMOUNT_MAX, flags=F.POST_PENDING_TRANSFER)
                )
            elif choice < 0.7:
                amount = rng.randint(0, p.amount)
                batch.append(Transfer(fresh(), pending_id=p.id, amount=amount, flags=F.POST_PENDING_TRANSFER))
            else:
                batch.append(Transfer(fresh(), pending_id=p.id, flags=F.VOID_PENDING_TRANSFER))
            chain_of.append(0)
        for _ in range(rng.randint(1, 6)):
            kind = rng.random()
            if kind < 0.55:
                batch.append(spend(lg, rng.randint(1, 25)))
                chain_of.append(0)
            elif kind < 0.7:
                batch.append(spend(lg, rng.randint(1, 25), F.PENDING))
                chain_of.append(0)
            elif kind < 0.9:
                chains += 1
                size = rng.randint(2, 4)
                for k in range(size):
                    flags = F.LINKED if k < size - 1 else 0
                    if rng.random() < 0.3:
                        flags |= F.PENDING
                    batch.append(spend(lg, rng.randint(1, 20), flags))
                    chain_of.append(chains)
            else:
                bank, spenders, _ = LEDGERS[lg]
                amount = rng.randint(1, 30)
                batch.append(Transfer(fresh(), bank, rng.choice(spenders), amount, ledger=lg, code=3))
                chain_of.append(0)
        with db.uow() as conn:
            results = ledger.create_transfers(conn, batch)
        for t, r, c in zip(batch, results, chain_of, strict=True):
            sent.append(Sent(t, int(r.status), c))
            if t.flags & F.PENDING and r.status == S.CREATED:
                open_pending.append(t)
    return sent


def run_worker_process(
    url: str, search_path: str | None, index: int, batches: int, seed: int, barrier: Any, out: Any
) -> None:
    """Process entry point: open the database, wait for every worker, run, report through ``out``."""
    db = make_database(url, search_path=search_path, pool_size=1)
    try:
        barrier.wait(timeout=60)
        out.put((index, run_worker(db, index, batches, seed), None))
    except BaseException:
        out.put((index, [], traceback.format_exc()))
    finally:
        db.dispose()
