"""The request body limit: a body larger than ``EARNLOOP_MAX_REQUEST_BYTES`` is refused with 413
problem+json before it is read whole — at once by its declared ``Content-Length``, or as soon as a
streamed (chunked) body passes the limit. Routes keep their own, smaller limits (reports, imports)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from earnloop.api.problems import ProblemError, problem_response

SLUG, TITLE = "payload-too-large", "Payload too large"


def _detail(max_bytes: int) -> str:
    return f"a request body is at most {max_bytes} bytes"


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimitMiddleware:
    """Pure ASGI middleware (no buffering of its own)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            response = problem_response(413, SLUG, TITLE, _detail(self.max_bytes))
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:  # raised inside the route: the problem handlers answer
                    raise ProblemError(413, SLUG, TITLE, _detail(self.max_bytes))
            return message

        await self.app(scope, limited_receive, send)
