"""``earnloop bench postback``: signed game-milestone postbacks per second over real HTTP.

Set-up goes through the real services on a fresh SQLite file: one game with N milestones (no order
between them, so that concurrent postbacks of one user are all valid) of a game publisher with its
``earnloop`` secret, users and one recorded click each. Then ``earnloop serve`` runs in its own
process on 127.0.0.1 and several client threads send distinct postbacks (one per user × milestone),
each signed at send time with the ``Earnloop-Signature`` header, exactly as a provider would. Every
postback must be answered 200 (anything else is a bench error), and afterwards the number of pending
game cashback entries must equal the number of postbacks accepted.

The ceiling is ``GET /healthz`` — the app has no hello-world endpoint and this is its cheapest — on
the same server, from the same number of client threads, for the same number of requests, in the same
run: the ratio says how much of the HTTP stack's capacity survives verification, deduplication,
pricing, the risk record and the ledger. Both runs are bounded by a request count and a time limit.
Before either, a few more users' postbacks and as many ``GET /healthz`` warm the server up, unmeasured
(the first requests of a fresh process fill caches: SQLite's pages, compiled statements). The measured
users' own first postbacks, which open their wallets, stay in the measurement.

Without ``--json`` the bench also says where the time goes: it profiles the earn path in this process
(``tracking.service.handle_postback`` in its own unit of work, no HTTP) for postbacks of a few extra
users, and prints each layer's share of the CPU time and the SQL statements per postback to stderr.
"""

from __future__ import annotations

import cProfile
import itertools
import json
import pstats
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, event, func, select

from earnloop.auth.models import partners
from earnloop.auth.service import create_partner, create_user
from earnloop.bench.common import BenchError, percentile, progress_logger, result_line
from earnloop.bench.live_server import server_process
from earnloop.catalog import service as catalog
from earnloop.config import get_settings
from earnloop.db.engine import Database, make_database
from earnloop.db.migrate import upgrade
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.service import LedgerService
from earnloop.observability import configure_logging
from earnloop.risk.engine import RiskEngine, build_engine, memory_engine
from earnloop.tracking import service as tracking
from earnloop.tracking.verifiers import GENERIC_SIGNATURE_HEADER, RawPostback, sign_generic
from earnloop.wallet.cashback.models import cashback_entries

BENCH = "postback"
PROVIDER = "earnloop"
PUBLISHER = "Bench Studio"
CURRENCY = "TWD"
POSTBACK_PATH = f"/postbacks/{PROVIDER}"
CEILING_PATH = "/healthz"
CEILING_WHAT = (
    "GET /healthz (the app's cheapest endpoint; it has no hello-world) on the same server, "
    "same client concurrency, same request count, same run"
)
LATENCY_WHAT = "GET /healthz latency at the same percentile, same server and concurrency, same run"


LAYERS = (  # (share label, marker in a profiled function's file or name), first match wins
    ("SQLAlchemy (building, compiling, results)", "/sqlalchemy/"),
    ("SQLite driver (executing SQL)", "sqlite3"),
    ("earnloop code", "/earnloop/"),
)


@dataclass(frozen=True)
class Sizes:
    users: int
    milestones: int
    clients: int
    time_limit_s: float
    profiled_users: int
    warmup_users: int  # their postbacks (and as many GET /healthz) run first, unmeasured

    @property
    def postbacks(self) -> int:
        return self.users * self.milestones


# One milestone per user, its click two hours earlier from the user's own address: honest traffic to the
# default risk strategy (many milestones of one user within seconds is what SDK spoofing looks like).
FULL = Sizes(users=2_000, milestones=1, clients=8, time_limit_s=180, profiled_users=200, warmup_users=200)
QUICK = Sizes(users=40, milestones=1, clients=4, time_limit_s=60, profiled_users=4, warmup_users=4)
CLICK_AGE_NS = 2 * 3_600 * 10**9

Send = Callable[[httpx.Client, int], httpx.Response]


@dataclass
class Run:
    """What one driven load produced: wall time, per-request latencies and answers by status."""

    elapsed_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    first_error: str | None = None

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())


def run(quick: bool, verbose: bool) -> Iterator[dict[str, Any]]:
    sizes = QUICK if quick else FULL
    log = progress_logger(BENCH, verbose)
    configure_logging("WARNING", stream=sys.stderr)  # stdout carries only the JSON lines
    with tempfile.TemporaryDirectory(prefix="earnloop-bench-") as tmp:
        db = make_database(f"sqlite:///{Path(tmp) / 'postback.db'}", pool_size=2)
        try:
            upgrade(db)
            yield from _bench(db, sizes, log, profile=verbose)
        finally:
            db.dispose()


def _bench(
    db: Database, sizes: Sizes, log: Callable[[str], None], *, profile: bool
) -> Iterator[dict[str, Any]]:
    secret = secrets.token_urlsafe(32)
    log(f"[{db.dialect}] a game with {sizes.milestones} milestones, {sizes.users} users with a click each")
    bodies = populate_world(db, secret, sizes.users, sizes.milestones)
    warmup = populate_world(db, secret, sizes.warmup_users, sizes.milestones, first=sizes.users)
    with server_process(db) as base_url:
        log(f"[{db.dialect}] warm-up: {len(warmup)} × GET {CEILING_PATH} and {len(warmup)} postbacks")
        warm_ceiling = _drive(base_url, len(warmup), sizes, lambda client, _: client.get(CEILING_PATH))
        warm_postbacks = _drive(base_url, len(warmup), sizes, postback_sender(secret, warmup))
        log(f"[{db.dialect}] ceiling: {len(bodies)} × GET {CEILING_PATH} from {sizes.clients} clients")
        ceiling = _drive(base_url, len(bodies), sizes, lambda client, _: client.get(CEILING_PATH))
        log(f"[{db.dialect}] {len(bodies)} signed postbacks from {sizes.clients} clients")
        postbacks = _drive(base_url, len(bodies), sizes, postback_sender(secret, bodies))
    counts = _checked_counts(db, (warm_ceiling, warm_postbacks, ceiling), postbacks, warm_postbacks.sent)
    log(f"[{db.dialect}] {counts['accepted']} accepted, {counts['pending_entries']} pending cashback entries")
    yield _line(
        db,
        "postbacks_per_s",
        counts["accepted"] / postbacks.elapsed_s,
        ceiling.sent / ceiling.elapsed_s,
        "1/s",
        CEILING_WHAT,
        digits=1,
        clients=sizes.clients,
        **counts,
    )
    for pct in (50, 99):
        yield _line(
            db,
            f"postback_latency_p{pct}_ms",
            percentile(postbacks.latencies, pct) * 1e3,
            percentile(ceiling.latencies, pct) * 1e3,
            "ms",
            LATENCY_WHAT,
            digits=3,
            clients=sizes.clients,
        )
    if profile:
        _where_time_goes(db, secret, sizes, log)


def _publisher(conn: Connection) -> int:
    """The bench game's publisher (created once): it signs the game's postbacks."""
    found = conn.execute(select(partners.c.id).where(partners.c.name == PUBLISHER)).scalar()
    if found is not None:
        return int(found)
    return create_partner(conn, PUBLISHER, "game_publisher", CURRENCY).id


def populate_world(
    db: Database, secret: str, users: int, milestone_count: int, *, first: int = 0
) -> list[bytes]:
    """The game and the secret (upserted), users ``first…`` and their clicks; returns the postback
    bodies to send, interleaved so that consecutive postbacks belong to different users."""
    now = SystemClock().now_ns()
    milestones = [
        {"key": f"m{index:03d}", "title": f"Milestone {index}", "reward_amount": 10 + index, "position": 0}
        for index in range(milestone_count)
    ]
    with db.uow() as conn:
        publisher_id = _publisher(conn)
        tracking.set_partner_secret(conn, partner_id=publisher_id, secret=secret, active=True, now_ns=now)
        game = catalog.upsert_game(
            conn,
            {
                "key": "bench-game",
                "title": "Bench Quest",
                "platforms": ["android"],
                "play_package": "dev.earnloop.bench",
                "tracking_provider": PROVIDER,
                "status": "active",
                "currency": CURRENCY,
                "publisher_id": publisher_id,
                "milestones": milestones,
            },
        )
        clicks = []
        risk = memory_engine()  # the set-up's own: the server's engine screens the postbacks
        for index in range(first, first + users):
            user = create_user(conn, f"bench-player-{index:05d}")
            click = tracking.record_click(
                conn,
                user_id=user.id,
                game_id=game["game_id"],
                user_agent="Mozilla/5.0 (Linux; Android 14) earnloop-bench",
                client_ip=f"10.{index // 256 % 256}.{index % 256}.7",  # a network of its own
                now_ns=now - CLICK_AGE_NS,
                risk=risk,
                device_id=f"bench-device-{index:05d}",
            )
            clicks.append(click["click_id"])
    return [
        json.dumps(
            {
                "transaction_id": f"bench-{user}-{milestone['key']}",
                "click_id": click_id,
                "event": milestone["key"],
                "amount": "1.00",
            }
        ).encode()
        for milestone in milestones
        for user, click_id in enumerate(clicks, start=first)
    ]


def postback_sender(secret: str, bodies: Sequence[bytes]) -> Send:
    def send(client: httpx.Client, index: int) -> httpx.Response:
        body = bodies[index]
        signature = sign_generic(secret, body, int(time.time()))
        return client.post(
            POSTBACK_PATH,
            content=body,
            headers={GENERIC_SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
        )

    return send


def _drive(base_url: str, count: int, sizes: Sizes, send: Send) -> Run:
    """``count`` requests from ``sizes.clients`` threads (one keep-alive connection each), stopping at
    the time limit; every answer other than 200 is recorded as an error."""
    result = Run()
    lock = threading.Lock()
    indexes = itertools.count()
    deadline = time.monotonic() + sizes.time_limit_s

    def client_loop() -> None:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            while time.monotonic() < deadline:
                with lock:
                    index = next(indexes)
                if index >= count:
                    return
                started = time.perf_counter()
                response = send(client, index)
                elapsed = time.perf_counter() - started
                with lock:
                    result.latencies.append(elapsed)
                    result.statuses[response.status_code] += 1
                    if response.status_code != 200 and result.first_error is None:
                        result.first_error = (
                            f"{response.request.method} {response.request.url.path}: "
                            f"{response.status_code} {response.text[:300]}"
                        )

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=sizes.clients) as pool:
        for future in [pool.submit(client_loop) for _ in range(sizes.clients)]:
            future.result()
    result.elapsed_s = time.perf_counter() - started
    return result


def _where_time_goes(db: Database, secret: str, sizes: Sizes, log: Callable[[str], None]) -> None:
    """Profile the earn path in this process for ``sizes.profiled_users`` more users; log the share of
    CPU time per layer and the SQL statements per postback."""
    first = sizes.users + sizes.warmup_users
    bodies = populate_world(db, secret, sizes.profiled_users, sizes.milestones, first=first)
    ledger = LedgerService(SystemClock())
    risk = build_engine(get_settings())
    statements: Counter[str] = Counter()

    def count_statement(*_: Any) -> None:
        statements["sql"] += 1

    profiler = cProfile.Profile()
    event.listen(db.engine, "before_cursor_execute", count_statement)
    try:
        started = time.perf_counter()
        profiler.enable()
        for body in bodies:
            _handle_in_process(db, ledger, risk, secret, body)
        profiler.disable()
        elapsed_s = time.perf_counter() - started
    finally:
        event.remove(db.engine, "before_cursor_execute", count_statement)
    shares = ", ".join(f"{label} {share:.0%}" for label, share in _shares_by_layer(profiler))
    log(
        f"where time goes: the earn path in-process ({len(bodies)} postbacks, no HTTP), "
        f"{statements['sql'] / len(bodies):.0f} SQL statements and "
        f"{elapsed_s / len(bodies) * 1e3:.1f} ms (under the profiler) per postback; CPU time: {shares}"
    )


def _handle_in_process(
    db: Database, ledger: LedgerService, risk: RiskEngine, secret: str, body: bytes
) -> None:
    headers = {
        GENERIC_SIGNATURE_HEADER: sign_generic(secret, body, int(time.time())),
        "content-type": "application/json",
    }
    raw = RawPostback("POST", POSTBACK_PATH, "", headers, body, "127.0.0.1")
    with db.uow() as conn:
        now_ns = ledger.clock.now_ns()
        reply = tracking.handle_postback(conn, ledger, raw, provider=PROVIDER, now_ns=now_ns, risk=risk)
    if reply.status != 200:
        raise BenchError(f"in-process postback answered {reply.status} {reply.body[:300]!r}")


def _shares_by_layer(profiler: cProfile.Profile) -> list[tuple[str, float]]:
    """Own time (not cumulative) of every profiled function, summed per layer, as shares, largest first."""
    totals: Counter[str] = Counter()
    # Stats.stats (undocumented in typeshed): (file, line, function) → (calls, primitive calls, own
    # time, cumulative time, callers)
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (filename, _, name), (_, _, own_s, _, _) in stats.items():
        where = f"{filename}:{name}"
        label = next((label for label, marker in LAYERS if marker in where), "other Python (stdlib, httpx…)")
        totals[label] += own_s
    grand_total = sum(totals.values()) or 1.0
    return [(label, own / grand_total) for label, own in totals.most_common()]


def _checked_counts(db: Database, others: Sequence[Run], postbacks: Run, warmed_up: int) -> dict[str, int]:
    """Every request was answered 200 and every accepted postback (and each of the ``warmed_up``
    ones) left one pending cashback entry; raises :class:`BenchError` otherwise."""
    for each in (*others, postbacks):
        if each.first_error is not None:
            raise BenchError(f"{each.first_error}")
    accepted = postbacks.statuses[200]
    pending = _pending_game_entries(db) - warmed_up
    if pending != accepted:
        raise BenchError(f"{accepted} postbacks accepted but {pending} pending entries")
    return {"sent": postbacks.sent, "accepted": accepted, "pending_entries": pending}


def _pending_game_entries(db: Database) -> int:
    with db.uow(write=False) as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(cashback_entries)
                .where(cashback_entries.c.source == "game", cashback_entries.c.status == "pending")
            ).scalar_one()
        )


def _line(
    db: Database,
    metric: str,
    value: float,
    ceiling: float,
    unit: str,
    what: str,
    *,
    digits: int,
    **extra: int,
) -> dict[str, Any]:
    return result_line(BENCH, db.dialect, metric, value, ceiling, unit, what, digits=digits, **extra)


__all__ = ["run"]
