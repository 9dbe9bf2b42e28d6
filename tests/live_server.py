"""HTTP test helpers: the real server lives in :mod:`earnloop.bench.live_server`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from earnloop.bench.live_server import free_port, serve, wait_until_up

__all__ = ["client", "earnloop_serve", "free_port", "serve", "wait_until_up"]

EARNLOOP = str(Path(sys.executable).with_name("earnloop"))


def client(base_url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=30)


@contextmanager
def earnloop_serve(database_url: str, cwd: Path, port: int | None = None, **env: str) -> Iterator[str]:
    """The real ``earnloop serve`` in its own process, with only ``EARNLOOP_DATABASE_URL``,
    ``EARNLOOP_PORT`` and ``env`` set among the ``EARNLOOP_*`` variables; yields its base URL."""
    port = port or free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("EARNLOOP_")}
    environment = {
        **inherited,
        "EARNLOOP_DATABASE_URL": database_url,
        "EARNLOOP_PORT": str(port),
        "EARNLOOP_LOG_LEVEL": "WARNING",
        **env,
    }
    server = subprocess.Popen(
        [EARNLOOP, "serve"], cwd=cwd, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url, server)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()
