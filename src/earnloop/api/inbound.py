"""Requests from partners' servers taken exactly as received (postbacks): the raw body that signatures
cover, the headers, the query string still percent-encoded, and the peer address."""

from __future__ import annotations

from fastapi import Request

from earnloop.tracking.verifiers import RawPostback


def client_ip(request: Request) -> str:
    """The peer address (behind a proxy, uvicorn's ``--proxy-headers`` resolves it); never a
    client-supplied ``X-Forwarded-For`` taken at face value."""
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
