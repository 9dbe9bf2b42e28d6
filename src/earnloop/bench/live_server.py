"""A real server on a free loopback port: uvicorn in a background thread (tests), or ``earnloop serve``
in its own process (benches: clients and server must not share one GIL)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from earnloop.bench.common import BenchError
from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.serving import uvicorn_options

STARTUP_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(app: FastAPI, *, startup_timeout_s: float = 15.0, port: int | None = None) -> Iterator[str]:
    """Run ``app`` on 127.0.0.1 (on ``port``, else a free one) until the block ends; yields its base URL."""
    port = port or free_port()
    ctx = getattr(app.state, "ctx", None)  # the fakes served by tests have no earnloop context
    settings = ctx.settings if ctx is not None else Settings()
    config = uvicorn.Config(app, lifespan="off", **uvicorn_options(settings, host="127.0.0.1", port=port))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def server_process(
    db: Database, extra_env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Iterator[str]:
    """``earnloop serve`` in its own process (clients and server must not share one GIL), with
    ``extra_env`` added to its environment and ``cwd`` as its directory (default: this one's)."""
    port = free_port()
    env = {
        **os.environ,
        "EARNLOOP_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "EARNLOOP_ADMIN_TOKEN": secrets.token_urlsafe(24),
        "EARNLOOP_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    earnloop = str(Path(sys.executable).with_name("earnloop"))
    server = subprocess.Popen(  # noqa: S603 - our own entry point
        [earnloop, "serve", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url, server)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_until_up(base_url: str, server: subprocess.Popen[Any]) -> None:
    """Until ``GET /healthz`` of the ``earnloop serve`` process ``server`` answers 200; a
    :class:`BenchError` when the process exits first or does not come up in time."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            error = server.stderr.read() if server.stderr else ""
            if isinstance(error, bytes):
                error = error.decode(errors="replace")
            raise BenchError(f"earnloop serve exited: {error[-500:]}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise BenchError("earnloop serve did not come up")
