"""Requests from partners' servers taken exactly as received (postbacks): the raw body that signatures
cover, the headers, the query string still percent-encoded, and the peer address."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Connection

from earnloop.api.context import app_context, run_write
from earnloop.ledger.service import LedgerService
from earnloop.tracking.service import Reply
from earnloop.tracking.verifiers import RawPostback

Handler = Callable[[Connection, LedgerService, RawPostback, int], Reply]


def client_ip(request: Request) -> str:
    """The peer address; uvicorn replaces it with the ``X-Forwarded-For`` client only when the peer is
    listed in ``EARNLOOP_TRUSTED_PROXIES`` (:mod:`earnloop.serving`). Never read the header here."""
    return request.client.host if request.client else ""


async def raw_postback(request: Request) -> RawPostback:
    return RawPostback(
        method=request.method,
        path=request.url.path,
        query_string=request.scope.get("query_string", b"").decode("utf-8", "replace"),
        headers=dict(request.headers),
        body=await request.body(),
        client_ip=client_ip(request),
    )


async def answer_postback(request: Request, handle: Handler) -> Response:
    """Take the postback as received, run ``handle(conn, ledger, raw, now_ns)`` as a write and send
    its reply verbatim, once the write has committed."""
    raw = await raw_postback(request)
    ctx = app_context(request)
    reply = await run_write(ctx, lambda conn: handle(conn, ctx.ledger, raw, ctx.ledger.clock.now_ns()))
    return Response(reply.body, status_code=reply.status, media_type=reply.content_type)
