"""The request body reader in front of every route: the one place a body enters the app.

* **Size.** A body larger than its limit is refused with 413 problem+json before the app sees it: at once
  by its declared ``Content-Length``, or — streamed in chunks — as soon as the bytes received pass the
  limit, whether or not the route would have read it. The limit is ``EARNLOOP_MAX_REQUEST_BYTES`` for a
  request that carries credentials (``Authorization`` or ``X-Api-Key``; checked later by the route), the
  much smaller ``EARNLOOP_MAX_ANONYMOUS_REQUEST_BYTES`` for one that carries none, and the receivers'
  own limit on the paths of provider postbacks (they are anonymous and signed). Routes keep their own,
  smaller limits (reports, imports).
* **JSON.** A JSON body (``application/json``, ``*+json``) that is not UTF-8 or is nested deeper than
  :data:`earnloop.bounds.JSON_DEPTH_MAX` is refused with 422 problem+json before anything parses it, so
  no parser in the app meets a ``RecursionError`` or answers an undocumented 400. (Routes that read
  JSON whatever its content type parse it with :func:`earnloop.bounds.loads`, which has the same limit.)

A body is buffered here whole (within its limit) and handed to the app in one message; the app never
buffers more than this reader allowed. Pure ASGI (no Starlette request objects)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from earnloop.api.problems import InvalidParam, problem_response
from earnloop.bounds import depth_message, too_deep

SLUG, TITLE = "payload-too-large", "Payload too large"
CREDENTIAL_HEADERS = (b"authorization", b"x-api-key")


def _detail(max_bytes: int) -> str:
    return f"a request body is at most {max_bytes} bytes"


@dataclass(frozen=True)
class BodyLimits:
    """``max_bytes`` with credentials, ``anonymous_max_bytes`` without; ``receiver_max_bytes`` maps a
    path prefix (postback receivers) to its own limit, whatever the headers."""

    max_bytes: int
    anonymous_max_bytes: int
    receiver_max_bytes: Mapping[str, int] = field(default_factory=dict)

    def for_request(self, scope: Scope, headers: Mapping[bytes, bytes]) -> int:
        path: str = scope.get("path", "")
        for prefix, limit in self.receiver_max_bytes.items():
            if path.startswith(prefix):
                return min(limit, self.max_bytes)
        if any(name in headers for name in CREDENTIAL_HEADERS):
            return self.max_bytes
        return min(self.anonymous_max_bytes, self.max_bytes)


def _declared_length(headers: Mapping[bytes, bytes]) -> int | None:
    value = headers.get(b"content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _is_json(headers: Mapping[bytes, bytes]) -> bool:
    content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    return content_type == b"application/json" or content_type.endswith(b"+json")


def _json_problem(body: bytes) -> str | None:
    """Why a JSON body is refused before any parser sees it (RFC 8259: UTF-8; the nesting limit)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "a JSON body must be UTF-8"
    return depth_message() if too_deep(body) else None


async def _read_body(receive: Receive, limit_bytes: int) -> bytes | Message | None:
    """The whole body, ``None`` once it passes ``limit_bytes``, or the disconnect message."""
    chunks: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return message
        chunk = message.get("body", b"")
        received += len(chunk)
        if received > limit_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class BodyLimitMiddleware:
    """Pure ASGI middleware: size limits by credentials and path, the JSON depth limit."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = _declared_length(headers)
        if declared == 0 or (declared is None and b"transfer-encoding" not in headers):
            await self.app(scope, receive, send)  # no body
            return
        limit = self.limits.for_request(scope, headers)
        if declared is not None and declared > limit:
            await problem_response(413, SLUG, TITLE, _detail(limit))(scope, receive, send)
            return
        body = await _read_body(receive, limit)
        if body is None:
            await problem_response(413, SLUG, TITLE, _detail(limit))(scope, receive, send)
            return
        problem = _json_problem(body) if isinstance(body, bytes) and _is_json(headers) else None
        if problem is not None:
            invalid = [InvalidParam(name="body", reason=problem)]
            response = problem_response(
                422, "validation-error", "Request validation failed", problem, invalid_params=invalid
            )
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes | Message, receive: Receive) -> Receive:
    """A ``receive`` that hands over the buffered body once, then the client's later messages."""
    pending: list[Message] = [
        {"type": "http.request", "body": body, "more_body": False} if isinstance(body, bytes) else body
    ]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed
