"""Logs and metrics: structlog lines carrying a request id — JSON, or readable lines when a person is at
the terminal — and Prometheus counters/histograms.

The ASGI middleware here is deliberately tiny (no Starlette ``BaseHTTPMiddleware``) because it sits on
every request's hot path.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import time
from typing import Any, TextIO

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-request-id"
ACCESS_LOGGER = "earnloop.http"
_MAX_REQUEST_ID_LEN = 128


def configure_logging(
    level: str = "INFO", stream: TextIO = sys.stdout, *, console: bool | None = None
) -> None:
    """Log lines on ``stream`` with ISO timestamps and bound context (request id): one JSON object per line,
    or readable lines (structlog's console renderer) when ``console`` — by default, when ``stream`` is a
    terminal. Standard-library loggers (uvicorn, alembic) go through the same renderer.
    """
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        # filter_by_level first: an event below the level (the access line of every request at
        # WARNING) is dropped before the processors time-stamp and merge it.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    at_terminal = _is_terminal(stream) if console is None else console
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_renderer(at_terminal)],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _renderer(console: bool) -> list[Any]:
    """The last processors: readable coloured lines (no colours under ``NO_COLOR``; tracebacks without
    local variables, which may hold secrets), or JSON."""
    if console:
        colors = not os.environ.get("NO_COLOR")
        plain = structlog.dev.plain_traceback
        return [structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=plain)]
    return [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]


class Metrics:
    """The Prometheus instruments of one app (own registry so that tests can build many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "earnloop_http_requests_total",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "earnloop_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.ledger_results = Counter(
            "earnloop_ledger_results_total",
            "Ledger create results by operation and result code.",
            ["operation", "result"],
            registry=self.registry,
        )


def _request_id_from(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER and 0 < len(value) <= _MAX_REQUEST_ID_LEN:
            text: str = value.decode("latin-1")
            if text.isprintable():
                return text
    return secrets.token_hex(16)


class RequestContextMiddleware:
    """Binds a request id to the logs, echoes it in ``X-Request-ID`` and records request metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = structlog.get_logger(ACCESS_LOGGER)
        self.access_log = logging.getLogger(ACCESS_LOGGER)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id_from(scope)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, status_holder["status"], time.perf_counter() - started)
            structlog.contextvars.unbind_contextvars("request_id")

    def _record(self, scope: Scope, status: int, elapsed_s: float) -> None:
        route = scope.get("route")
        route_path = getattr(route, "path", "unmatched")
        requests, latency = self._instruments(scope["method"], route_path, status)
        requests.inc()
        latency.observe(elapsed_s)
        if status >= 500:
            self.log.error("request", **_access_fields(scope, status, elapsed_s))
        elif self.access_log.isEnabledFor(logging.INFO):  # off at WARNING: skip building the event
            self.log.info("request", **_access_fields(scope, status, elapsed_s))

    def _instruments(self, method: str, route_path: str, status: int) -> tuple[Any, Any]:
        """The request counter and latency histogram children for these labels, looked up once
        (``labels()`` takes a lock and builds a key on every call)."""
        key = (method, route_path, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.metrics.requests.labels(method, route_path, str(status)),
                self.metrics.latency.labels(route_path),
            )
            self._children[key] = children
        return children


def _access_fields(scope: Scope, status: int, elapsed_s: float) -> dict[str, Any]:
    return {
        "method": scope["method"],
        "path": scope["path"],
        "status": status,
        "duration_ms": round(elapsed_s * 1000, 3),
    }
