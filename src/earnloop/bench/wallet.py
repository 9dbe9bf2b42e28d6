"""``earnloop bench wallet``: end-to-end payments per second over real HTTP.

A payment is what a till does: the merchant presents an order (``POST /v1/merchant/orders``) and the
user confirms it (``POST /v1/me/orders/{id}/confirm``), each a request to ``earnloop serve`` running in
its own process on 127.0.0.1, from several client threads. The ceiling, measured in the same run on
the same database, is the ledger's own batched rate for the same money movement (user → merchant,
8,190 per batch): the ratio says how much of the ledger's capacity survives HTTP, auth,
idempotency and the order rows.
Latency lines compare a payment's p50/p99 with ``GET /healthz`` on the same server (a floor).
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from earnloop.auth.service import create_partner, create_user
from earnloop.bench.common import BenchError, percentile, progress_logger, result_line
from earnloop.bench.live_server import server_process
from earnloop.currencies import currency
from earnloop.db.engine import Database, make_database
from earnloop.db.migrate import upgrade
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import BATCH_MAX, Transfer
from earnloop.observability import configure_logging
from earnloop.wallet import service
from earnloop.wallet.chart import AccountKind, AccountRef, TransferKind, transfer_id
from earnloop.wallet.ledger_ops import ensure_accounts

BENCH = "wallet"
CURRENCY = "TWD"
FUNDS_PER_USER = 10_000_000
CEILING_WHAT = "ledger create_transfers of the same user→merchant movement, 8190 per batch, same DB, same run"
LATENCY_WHAT = "GET /healthz on the same server, same run (a floor)"


@dataclass(frozen=True)
class Sizes:
    users: int
    payments: int
    clients: int
    ledger_batches: int


FULL = Sizes(users=200, payments=2_000, clients=8, ledger_batches=4)
QUICK = Sizes(users=10, payments=40, clients=4, ledger_batches=1)


@dataclass(frozen=True)
class Population:
    merchant_id: int
    merchant_key: str
    user_tokens: list[str]
    user_ids: list[int]


def run(quick: bool, verbose: bool) -> Iterator[dict[str, Any]]:
    sizes = QUICK if quick else FULL
    log = progress_logger("wallet", verbose)
    configure_logging("WARNING", stream=sys.stderr)  # stdout carries only the JSON lines
    with tempfile.TemporaryDirectory(prefix="earnloop-bench-") as tmp:
        db = make_database(f"sqlite:///{Path(tmp) / 'wallet.db'}", pool_size=sizes.clients + 2)
        try:
            upgrade(db)
            yield from _bench(db, sizes, log)
        finally:
            db.dispose()


def _bench(db: Database, sizes: Sizes, log: Callable[[str], None]) -> Iterator[dict[str, Any]]:
    ledger = LedgerService(SystemClock())
    log(f"[{db.dialect}] {sizes.users} users with funded wallets and one merchant")
    population = _populate(db, ledger, sizes.users)
    with server_process(db) as base_url:
        log(f"[{db.dialect}] {sizes.payments} payments over HTTP from {sizes.clients} clients")
        elapsed_s, latencies = _pay_over_http(base_url, population, sizes)
        floor = _healthz_latencies(base_url, 200)
    log(f"[{db.dialect}] ledger ceiling: {sizes.ledger_batches} batches of {BATCH_MAX}")
    ceiling_per_s = _ledger_rate(db, ledger, population, sizes.ledger_batches)
    payments_per_s = sizes.payments / elapsed_s
    yield _line(db, "payments_per_s", payments_per_s, ceiling_per_s, "1/s", CEILING_WHAT, digits=1)
    for pct in (50, 99):
        yield _line(
            db,
            f"payment_latency_p{pct}_ms",
            percentile(latencies, pct) * 1e3,
            percentile(floor, pct) * 1e3,
            "ms",
            LATENCY_WHAT,
            digits=3,
        )


def _populate(db: Database, ledger: LedgerService, count: int) -> Population:
    with db.uow() as conn:
        merchant = create_partner(conn, "Good Neighbour Store", "merchant", CURRENCY)
        tokens, ids = [], []
        for index in range(count):
            user = create_user(conn, f"bench-user-{index:05d}")
            service.open_wallet(conn, ledger, user.id, CURRENCY)
            service.adjust(
                conn,
                ledger,
                idempotency_key=f"bench-fund-{user.id}",
                user_id=user.id,
                currency_code=CURRENCY,
                amount=FUNDS_PER_USER,
                direction="credit",
                reason="bench funding",
                actor="bench",
            )
            tokens.append(user.secret)
            ids.append(user.id)
    return Population(merchant.id, merchant.secret, tokens, ids)


def _pay_over_http(base_url: str, population: Population, sizes: Sizes) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    local = threading.local()

    def pay(index: int) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base_url, timeout=60)
        client: httpx.Client = local.client
        user = index % len(population.user_tokens)
        started = time.perf_counter()
        order = client.post(
            "/v1/merchant/orders",
            json={"order_id": f"bench-{index}", "amount": 1 + index % 5_000, "currency": CURRENCY},
            headers={"X-Api-Key": population.merchant_key},
        )
        _expect(order, 200)
        confirmed = client.post(
            f"/v1/me/orders/{order.json()['order_id']}/confirm",
            headers={
                "Authorization": f"Bearer {population.user_tokens[user]}",
                "Idempotency-Key": f"pay-{index}",
            },
        )
        _expect(confirmed, 200)
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=sizes.clients) as pool:
        for future in [pool.submit(pay, i) for i in range(sizes.payments)]:
            future.result()
    return time.perf_counter() - started, latencies


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise BenchError(f"{response.request.url.path}: {response.status_code} {response.text[:300]}")


def _healthz_latencies(base_url: str, count: int) -> list[float]:
    samples = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for _ in range(count):
            started = time.perf_counter()
            _expect(client.get("/healthz"), 200)
            samples.append(time.perf_counter() - started)
    return samples


def _ledger_rate(db: Database, ledger: LedgerService, population: Population, batches: int) -> float:
    cur = currency(CURRENCY)
    merchant = AccountRef(AccountKind.MERCHANT_SETTLEMENT, population.merchant_id, cur)
    users = [service.user_account(user_id, cur) for user_id in population.user_ids]
    with db.uow() as conn:
        ensure_accounts(conn, ledger, [merchant])
    total_s = 0.0
    for batch in range(batches):
        transfers = [
            Transfer(
                id=transfer_id("bench.ceiling", batch, i),
                debit_account_id=users[i % len(users)].id,
                credit_account_id=merchant.id,
                amount=1,
                ledger=cur.ledger,
                code=int(TransferKind.PAYMENT),
            )
            for i in range(BATCH_MAX)
        ]
        started = time.perf_counter()
        with db.uow() as conn:
            results = ledger.create_transfers(conn, transfers)
        total_s += time.perf_counter() - started
        if any(r.status.name != "CREATED" for r in results):
            raise BenchError("ledger ceiling batch did not fully succeed")
    return batches * BATCH_MAX / total_s


def _line(
    db: Database, metric: str, value: float, ceiling: float, unit: str, what: str, *, digits: int
) -> dict[str, Any]:
    return result_line(BENCH, db.dialect, metric, value, ceiling, unit, what, digits=digits)


__all__ = ["run"]
