"""HTTP test helpers: the real server lives in :mod:`earnloop.bench.live_server`."""

from __future__ import annotations

import httpx

from earnloop.bench.live_server import free_port, serve, wait_until_up

__all__ = ["client", "free_port", "serve", "wait_until_up"]


def client(base_url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=30)
