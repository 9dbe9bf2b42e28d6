"""Sending a body signed with our ``Earnloop-Signature`` scheme, as a provider or a merchant's partner
would (game postbacks and affiliate conversions share the scheme)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from earnloop.ledger.clock import ManualClock
from earnloop.tracking.verifiers import GENERIC_SIGNATURE_HEADER, sign_generic


def post_signed(
    api: httpx.Client,
    clock: ManualClock,
    path: str,
    fields: dict[str, Any] | bytes,
    *,
    secret: str,
    t: int | None = None,
    sent_body: bytes | None = None,
) -> httpx.Response:
    """POST ``fields`` (JSON) signed with ``secret`` at ``t`` (default: the clock's now); ``sent_body``
    replaces what goes on the wire after signing (a tampered body)."""
    body = fields if isinstance(fields, bytes) else json.dumps(fields).encode()
    stamp = clock.now_ns() // 10**9 if t is None else t
    return api.post(
        path,
        content=body if sent_body is None else sent_body,
        headers={
            GENERIC_SIGNATURE_HEADER: sign_generic(secret, body, stamp),
            "Content-Type": "application/json",
        },
    )
