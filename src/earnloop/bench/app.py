"""``earnloop bench app``: how fast the server renders each page of the app and how much a first visit to
it transfers, on the demo's data (issue 16: ≤ 50 ms p95, ≤ 150 KB).

The demo is seeded by the real ``earnloop demo seed`` into a temporary (migrated) SQLite database and
served by ``earnloop serve`` in its own process. alice is signed in by a session made directly in the
database. The pages are every GET route of the app's routers without a path
parameter: each is measured for alice, or for a visitor when it sends alice elsewhere (the welcome and
sign-in pages). Each page is requested sequentially by one client (``Accept-Encoding: gzip``); its
latency p95 is set against the p95 of ``GET /healthz`` measured the same way in the same run. Its bytes
are the page's and those of every stylesheet, script and image of ``/app/static`` it links to (a first
visit: nothing cached), headers included.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from fastapi.routing import APIRoute
from sqlalchemy import select

from earnloop.auth import sessions
from earnloop.auth.models import users
from earnloop.bench.common import BenchError, percentile, progress_logger, result_line
from earnloop.bench.live_server import server_process
from earnloop.db.engine import Database, make_database
from earnloop.db.migrate import upgrade
from earnloop.web.pages import ROUTERS
from earnloop.web.session import SESSION_COOKIE
from earnloop.web.templating import STATIC_PREFIX

BENCH = "app"
USER = "alice"
P95_MAX_MS = 50.0
BYTES_MAX = 150_000
CEILING_WHAT = "GET /healthz p95, same client, same run"
ASSET_RE = re.compile(rf"""(?:href|src)="({re.escape(STATIC_PREFIX)}/[^"?#]+)""")
GZIP = {"Accept-Encoding": "gzip"}


@dataclass(frozen=True)
class Sizes:
    requests: int  # per page, after the warm-up
    warmup: int


FULL = Sizes(requests=200, warmup=10)
QUICK = Sizes(requests=10, warmup=2)


def app_pages() -> list[str]:
    """The GET paths of the app's routers that take no path parameter (``/`` only redirects)."""
    paths = []
    for router in ROUTERS:
        for route in router.routes:
            if not isinstance(route, APIRoute):  # a nested router would hide its pages from the bench
                raise TypeError(f"{route!r}: list every page router in earnloop.web.pages.ROUTERS")
            if "GET" in (route.methods or ()) and "{" not in route.path:
                paths.append(route.path)
    return sorted(path for path in set(paths) if path.startswith("/app"))


def run(quick: bool, verbose: bool) -> Iterator[dict[str, Any]]:
    sizes = QUICK if quick else FULL
    log = progress_logger(BENCH, verbose)
    with tempfile.TemporaryDirectory(prefix="earnloop-bench-app-") as folder:
        env = _demo_environment(Path(folder))
        log("seeding the demo")
        db = make_database(env["EARNLOOP_DATABASE_URL"], pool_size=1)
        try:
            upgrade(db)
            _seed_demo(Path(folder), env)
            token = _sign_in(db, USER)
            with server_process(db, env, cwd=Path(folder)) as base_url:
                yield from _measure(base_url, token, sizes, log)
        finally:
            db.dispose()


def _demo_environment(folder: Path) -> dict[str, str]:
    """The demo's settings, all inside ``folder``: its database, admin token file and secrets key."""
    return {
        "EARNLOOP_DATABASE_URL": f"sqlite:///{folder / 'earnloop.db'}",
        "EARNLOOP_ADMIN_TOKEN_FILE": str(folder / "admin_token"),
        "EARNLOOP_SECRETS_KEYS": Fernet.generate_key().decode("ascii"),
        "EARNLOOP_LOG_LEVEL": "WARNING",
    }


def _seed_demo(folder: Path, env: dict[str, str]) -> None:
    earnloop = str(Path(sys.executable).with_name("earnloop"))
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("EARNLOOP_")}
    done = subprocess.run(  # noqa: S603 - our own entry point
        [earnloop, "demo", "seed"],
        cwd=folder,
        env={**inherited, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"earnloop demo seed failed: {done.stderr[-500:]}")


def _sign_in(db: Database, handle: str) -> str:
    with db.uow() as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.handle == handle)).scalar_one_or_none()
        if user_id is None:
            raise BenchError(f"the demo has no user {handle!r}")
        return sessions.start_session(conn, int(user_id))


def _measure(base_url: str, token: str, sizes: Sizes, log: Callable[[str], None]) -> Iterator[dict[str, Any]]:
    signed_in = httpx.Client(base_url=base_url, headers=GZIP, cookies={SESSION_COOKIE: token}, timeout=30)
    visitor = httpx.Client(base_url=base_url, headers=GZIP, timeout=30)
    with signed_in, visitor:
        ceiling = percentile(_latencies_ms(visitor, "/healthz", sizes), 95)
        assets: dict[str, int] = {}
        for path in app_pages():
            http = _client_for(path, signed_in, visitor)
            if http is None:
                log(f"{path}: no page for a signed-in user nor a visitor (skipped)")
                continue
            latencies = _latencies_ms(http, path, sizes)
            page_bytes = _page_bytes(http, path, assets)
            log(f"{path}: p95 {percentile(latencies, 95):.2f} ms, {page_bytes} bytes")
            yield _line(path, latencies, ceiling, page_bytes, signed_in=http is signed_in)


def _client_for(path: str, signed_in: httpx.Client, visitor: httpx.Client) -> httpx.Client | None:
    """alice's client when the page is hers, the visitor's when it sends alice elsewhere but shows a
    visitor a page, ``None`` when neither gets one."""
    for http in (signed_in, visitor):
        if http.get(path).status_code == 200:
            return http
    return None


def _latencies_ms(http: httpx.Client, path: str, sizes: Sizes) -> list[float]:
    samples = []
    for index in range(sizes.warmup + sizes.requests):
        started = time.perf_counter()
        response = http.get(path)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise BenchError(f"GET {path} answered {response.status_code}")
        if index >= sizes.warmup:
            samples.append(elapsed_ms)
    return samples


def _page_bytes(http: httpx.Client, path: str, assets: dict[str, int]) -> int:
    """The page's transferred bytes plus those of each static asset it links to (each fetched once)."""
    response = http.get(path)
    total = _transferred(response)
    for asset in sorted(set(ASSET_RE.findall(response.text))):
        if asset not in assets:
            assets[asset] = _transferred(http.get(asset))
        total += assets[asset]
    return total


def _transferred(response: httpx.Response) -> int:
    """The status line, headers and body as received (compressed when the server compressed it)."""
    if response.status_code != 200:
        raise BenchError(f"GET {response.url.path} answered {response.status_code}")
    status_line = len(f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n\r\n")
    headers = sum(len(name) + len(value) + 4 for name, value in response.headers.raw)
    return status_line + headers + response.num_bytes_downloaded


def _line(
    path: str, latencies: list[float], ceiling_ms: float, page_bytes: int, *, signed_in: bool
) -> dict[str, Any]:
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    line = result_line(
        BENCH, "sqlite", "page_p95_ms", p95, ceiling_ms, "ms", CEILING_WHAT, digits=2, requests=len(latencies)
    )
    return {
        **line,
        "page": path,
        "as": USER if signed_in else "visitor",
        "p50_ms": round(p50, 2),
        "p95_ms": line["value"],
        "bytes": page_bytes,
        "within_50ms_p95": p95 <= P95_MAX_MS,
        "within_150kb": page_bytes <= BYTES_MAX,
    }
