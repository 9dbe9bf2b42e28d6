"""``earnloop bench risk-deploy``: how long an approved strategy version takes to be in force in another
process (issue 15, acceptance 2 and 6; ADR 0025).

A real ``earnloop serve`` process answers a steady load of dry-run decisions (``POST /v1/risk/evaluate``
on the live version) from two clients. This process publishes and approves a new version each round
(two operators, committed here), at a random point of the server's check interval; the propagation
time is from that commit until the first answer carrying the new version. The ceiling, measured on the
same server in the same round, is one dry run naming the new version explicitly: reading it and
compiling it, over the same HTTP — what any process must spend to decide with a version it has just
learnt of. The wait for the server's next check (at most ``EARNLOOP_RISK_STRATEGY_REFRESH_MS``) is the
difference. A failed request fails the bench.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from earnloop.auth.operators import Operator, create_operator, operator_for_token
from earnloop.bench.common import BenchError, progress_logger, result_line
from earnloop.bench.live_server import server_process
from earnloop.config import get_settings
from earnloop.db.engine import Database, make_database
from earnloop.db.migrate import upgrade
from earnloop.observability import configure_logging
from earnloop.risk.fields import catalogue
from earnloop.risk.strategies import service
from earnloop.risk.strategies.schemas import VersionIn

BENCH = "risk-deploy"
NAME = "bench"
CLIENTS = 2
SEED = 25
SEEN_TIMEOUT_S = 30.0
CEILING_WHAT = "one dry run naming the new version (read + compile + HTTP), same server, same run"


@dataclass(frozen=True)
class Sizes:
    rounds: int


FULL = Sizes(rounds=10)
QUICK = Sizes(rounds=1)


@dataclass
class Load:
    """Clients deciding with the live version until stopped; the first time each version was answered."""

    base_url: str
    token: str
    first_seen: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    failure: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        body = {"strategy": NAME, "activation": {"amount": 1}}
        with httpx.Client(base_url=self.base_url, headers=_bearer(self.token), timeout=10) as http:
            while not self.stop.is_set():
                try:
                    response = http.post("/v1/risk/evaluate", json=body)
                    response.raise_for_status()
                except httpx.HTTPError as exc:
                    self.failure = self.failure or f"{type(exc).__name__}: {exc}"
                    return
                received = time.monotonic()
                version = response.json()["decision"]["version"]
                with self._lock:
                    self.requests += 1
                    self.first_seen.setdefault(version, received)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def run(quick: bool, verbose: bool) -> Iterator[dict[str, Any]]:
    sizes = QUICK if quick else FULL
    log = progress_logger(BENCH, verbose)
    configure_logging("WARNING", stream=sys.stderr)  # stdout carries only the JSON lines
    with tempfile.TemporaryDirectory(prefix="earnloop-bench-") as tmp:
        db = make_database(f"sqlite:///{Path(tmp) / 'deploy.db'}", pool_size=2)
        try:
            upgrade(db)
            yield from _bench(db, sizes, log)
        finally:
            db.dispose()


def _bench(db: Database, sizes: Sizes, log: Callable[[str], None]) -> Iterator[dict[str, Any]]:
    author, approver, token = _operators(db)
    _deploy(db, author, approver, 1)
    refresh_ms = get_settings().risk_strategy_refresh_ms
    propagation_ms: list[float] = []
    ceiling_ms: list[float] = []
    with server_process(db) as base_url, httpx.Client(base_url=base_url, headers=_bearer(token)) as http:
        load = Load(base_url, token)
        clients = [threading.Thread(target=load.run, daemon=True) for _ in range(CLIENTS)]
        for client in clients:
            client.start()
        try:
            _wait_for(load, f"{NAME}-1")
            rng = random.Random(SEED)
            for version in range(2, sizes.rounds + 2):
                time.sleep(rng.uniform(0, refresh_ms / 1_000))  # not in step with the server's checks
                ceiling_ms.append(_publish_and_time_a_named_run(db, http, author, version))
                committed = _approve(db, approver, version)
                propagation_ms.append((_wait_for(load, f"{NAME}-{version}") - committed) * 1e3)
                log(
                    f"version {version}: in force after {propagation_ms[-1]:.0f} ms ({ceiling_ms[-1]:.1f} ms)"
                )
        finally:
            load.stop.set()
            for client in clients:
                client.join(timeout=30)
    if load.failure:
        raise BenchError(f"a decision request failed during the deploys: {load.failure}")
    extra = {"refresh_ms": refresh_ms, "rounds": sizes.rounds, "requests": load.requests, "failed": 0}
    median, worst = statistics.median(propagation_ms), max(propagation_ms)
    ceiling = statistics.median(ceiling_ms)
    yield result_line(
        BENCH, db.dialect, "deploy_propagation_p50_ms", median, ceiling, "ms", CEILING_WHAT, digits=1, **extra
    )
    yield result_line(
        BENCH,
        db.dialect,
        "deploy_propagation_max_ms",
        worst,
        max(ceiling_ms),
        "ms",
        CEILING_WHAT,
        digits=1,
        **extra,
    )


def _operators(db: Database) -> tuple[Operator, Operator, str]:
    """Two risk operators (four eyes); the first one's token drives the load."""
    with db.uow() as conn:
        token = create_operator(conn, "bench-author", ["risk"]).secret
        author = operator_for_token(conn, token)
        approver = operator_for_token(conn, create_operator(conn, "bench-approver", ["risk"]).secret)
    if author is None or approver is None:
        raise BenchError("the bench operators were not created")
    return author, approver, token


def _document(version: int) -> VersionIn:
    rule = {"code": "big", "expression": f"amount > {1_000 * version}", "outcome": "review", "score": 1}
    return VersionIn.model_validate({"changelog": f"bench round {version}", "rules": [rule]})


def _deploy(db: Database, author: Operator, approver: Operator, version: int) -> None:
    with db.uow() as conn:
        service.publish(conn, NAME, _document(version), author, fields=catalogue(), now_ns=time.time_ns())
    _approve(db, approver, version)


def _publish_and_time_a_named_run(db: Database, http: httpx.Client, author: Operator, version: int) -> float:
    """Publish ``version`` as a draft and time one dry run naming it (the ceiling), in ms."""
    with db.uow() as conn:
        service.publish(conn, NAME, _document(version), author, fields=catalogue(), now_ns=time.time_ns())
    started = time.perf_counter()
    response = http.post("/v1/risk/evaluate", json={"strategy": NAME, "version": version, "activation": {}})
    elapsed_ms = (time.perf_counter() - started) * 1e3
    if response.status_code != 200 or response.json()["decision"]["version"] != f"{NAME}-{version}":
        raise BenchError(
            f"a dry run of version {version} failed: {response.status_code} {response.text[:200]}"
        )
    return elapsed_ms


def _approve(db: Database, approver: Operator, version: int) -> float:
    """Approve ``version``; the monotonic time of the commit."""
    with db.uow() as conn:
        service.approve(conn, NAME, version, approver, four_eyes=True, now_ns=time.time_ns())
    return time.monotonic()


def _wait_for(load: Load, label: str) -> float:
    """When the load first got an answer from version ``label``."""
    deadline = time.monotonic() + SEEN_TIMEOUT_S
    while time.monotonic() < deadline:
        if load.failure:
            raise BenchError(f"a decision request failed: {load.failure}")
        seen = load.first_seen.get(label)
        if seen is not None:
            return seen
        time.sleep(0.005)
    raise BenchError(f"{label} was not in force after {SEEN_TIMEOUT_S} s")
