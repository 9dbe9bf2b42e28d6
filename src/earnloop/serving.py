"""How ``earnloop serve`` runs uvicorn: the one place that builds uvicorn's options (bind address,
workers, logging and which peers' proxy headers are trusted), used by ``serve``, the benches' and the
tests' servers alike.

Proxy headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) decide the client IP that allow-lists and risk
read (:func:`earnloop.api.inbound.client_ip`), so they are honoured only when the connecting peer is
listed in ``EARNLOOP_TRUSTED_PROXIES``; by default none is, and the peer address is the client IP.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from earnloop.config import Settings

TRUSTED_PROXIES_MAX = 64

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ServingConfigError(ValueError):
    """A serving setting cannot be used (the message names the setting)."""


def trusted_proxy_networks(settings: Settings) -> list[Network]:
    """``EARNLOOP_TRUSTED_PROXIES`` parsed: comma-separated IP addresses or CIDR blocks, empty = none."""
    raw = [item.strip() for item in settings.trusted_proxies.split(",") if item.strip()]
    if len(raw) > TRUSTED_PROXIES_MAX:
        raise ServingConfigError(f"EARNLOOP_TRUSTED_PROXIES: at most {TRUSTED_PROXIES_MAX} entries")
    networks: list[Network] = []
    for item in raw:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ServingConfigError(
                f"EARNLOOP_TRUSTED_PROXIES: {item[:60]!r} is not an IP address or CIDR block"
            ) from None
    return networks


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy-header options: off unless trusted proxies are listed (uvicorn's own default
    trusts loopback, which would let anyone on the host forge a client IP)."""
    networks = trusted_proxy_networks(settings)
    return {"proxy_headers": bool(networks), "forwarded_allow_ips": [str(n) for n in networks]}


def uvicorn_options(
    settings: Settings, *, host: str | None = None, port: int | None = None, workers: int = 1
) -> dict[str, Any]:
    """Keyword arguments of ``uvicorn.run`` / ``uvicorn.Config`` for the app (without the app itself)."""
    return {
        "host": host or settings.host,
        "port": port or settings.port,
        "workers": workers,
        "log_config": None,
        "access_log": False,
        **proxy_options(settings),
    }
