"""The writer that test_ledger_crash kills with SIGKILL: large batches in a loop, forever.

Batch ``(run, number)`` is a pure function of its two numbers (:func:`make_batch`), so the parent can
rebuild and re-send any batch the child committed. Before each batch the child appends
``start <run> <number>`` to its log and after the commit ``done <run> <number> <created>``.

Run as ``python -m tests.integration.ledger_crash_child URL SEARCH_PATH RUN LOG`` (``-`` for no search
path) or through :func:`crash_writer` in a forked worker process.
"""

from __future__ import annotations

import random
import sys

from earnloop.db.engine import make_database
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.results import CreateTransferStatus
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import AMOUNT_MAX, Account, AccountFlags, Transfer, TransferFlags

F = TransferFlags
DMNEC = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
CMNED = AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
# ledger -> (bank, limited spenders, sink)
LEDGERS = {1: (1, (10, 11, 12, 13), 20), 2: (2, (30, 31), 40)}
ID_STRIDE = 10_000  # ids of batch (run, n): run * 10**8 + n * ID_STRIDE + position
MIN_BATCH, MAX_BATCH = 2000, 8190


def pool_accounts() -> list[Account]:
    accounts = []
    for ledger, (bank, spenders, sink) in LEDGERS.items():
        accounts.append(Account(id=bank, ledger=ledger, code=1, flags=CMNED if ledger == 2 else 0))
        accounts.append(Account(id=sink, ledger=ledger, code=1))
        accounts.extend(
            Account(id=s, ledger=ledger, code=1, flags=DMNEC | (AccountFlags.HISTORY if s % 2 else 0))
            for s in spenders
        )
    return accounts


def batch_base(run: int, number: int) -> int:
    return run * 100_000_000 + number * ID_STRIDE


def batch_size(run: int, number: int) -> int:
    rng = random.Random(f"size:{run}:{number}")
    # Mostly 2,000-4,000 events, one batch in five up to the 8,190 maximum.
    return rng.randint(MIN_BATCH, MAX_BATCH if rng.random() < 0.2 else 2 * MIN_BATCH)


def _is_pending_slot(run: int, number: int, position: int) -> bool:
    return (position * 7 + number + run) % 11 == 3


def make_batch(run: int, number: int) -> list[Transfer]:
    """Spends, refills, pending transfers (some with 1-2 s timeouts), posts/voids of the previous batch's
    pending transfers, and linked chains. Pending transfers sit at fixed slots so that the next batch can
    name them without rebuilding this one."""
    rng = random.Random(f"batch:{run}:{number}")
    size = batch_size(run, number)
    base = batch_base(run, number)
    previous = []
    if number > 0:
        prev_base = batch_base(run, number - 1)
        previous = [
            prev_base + p for p in range(batch_size(run, number - 1)) if _is_pending_slot(run, number - 1, p)
        ]
        rng.shuffle(previous)
    batch: list[Transfer] = []
    position = 0
    while position < size:
        tid = base + position
        lg = 1 if rng.random() < 0.7 else 2
        bank, spenders, sink = LEDGERS[lg]
        dr = rng.choice(spenders)
        if _is_pending_slot(run, number, position):
            timeout = rng.choice((0, 0, 1, 2))
            batch.append(
                Transfer(
                    tid, dr, sink, rng.randint(1, 40), ledger=lg, code=2, flags=F.PENDING, timeout=timeout
                )
            )
            position += 1
            continue
        roll = rng.random()
        if roll < 0.25 and previous:
            pending_id = previous.pop()
            kind = rng.random()
            if kind < 0.5:
                batch.append(
                    Transfer(tid, pending_id=pending_id, amount=AMOUNT_MAX, flags=F.POST_PENDING_TRANSFER)
                )
            elif kind < 0.7:
                batch.append(
                    Transfer(
                        tid, pending_id=pending_id, amount=rng.randint(0, 3), flags=F.POST_PENDING_TRANSFER
                    )
                )
            else:
                batch.append(Transfer(tid, pending_id=pending_id, flags=F.VOID_PENDING_TRANSFER))
            position += 1
        elif roll < 0.35 and position + 4 < size:
            length = rng.randint(2, 4)
            for k in range(length):
                if _is_pending_slot(run, number, position):
                    break  # a pending slot ends the chain (it is never linked)
                flags = F.LINKED if k < length - 1 else 0
                batch.append(
                    Transfer(
                        base + position,
                        rng.choice(spenders),
                        sink,
                        rng.randint(1, 60),
                        ledger=lg,
                        code=3,
                        flags=flags,
                    )
                )
                position += 1
            else:
                continue
            # The chain was cut by a pending slot: close it with an unlinked refill-free spend.
            if batch[-1].flags & F.LINKED:
                last = batch[-1]
                batch[-1] = Transfer(
                    last.id,
                    last.debit_account_id,
                    last.credit_account_id,
                    last.amount,
                    ledger=last.ledger,
                    code=3,
                )
        elif roll < 0.45:
            batch.append(Transfer(tid, bank, dr, rng.randint(1, 400), ledger=lg, code=4))
            position += 1
        else:
            cr = sink if rng.random() < 0.8 else rng.choice([s for s in spenders if s != dr])
            batch.append(Transfer(tid, dr, cr, rng.randint(1, 80), ledger=lg, code=5))
            position += 1
    return batch


def crash_writer(url: str, search_path: str | None, run: int, log_path: str) -> None:
    """Submit batches of run ``run`` until killed."""
    db = make_database(url, search_path=search_path, pool_size=1)
    ledger = LedgerService(SystemClock())
    with open(log_path, "a", buffering=1) as log:
        number = 0
        while True:
            batch = make_batch(run, number)
            log.write(f"start {run} {number}\n")
            with db.uow() as conn:
                results = ledger.create_transfers(conn, batch)
            created = sum(1 for r in results if r.status == CreateTransferStatus.CREATED)
            log.write(f"done {run} {number} {created}\n")
            number += 1


if __name__ == "__main__":
    _url, _path, _run, _log = sys.argv[1:5]
    crash_writer(_url, None if _path == "-" else _path, int(_run), _log)
