"""Sender-side signatures: ``Earnloop-Signature: t=<unix s>,v1=<hex hmac>[,v1=<older secret>]``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

SIGNATURE_HEADER = "Earnloop-Signature"
EVENT_ID_HEADER = "Earnloop-Event-Id"


def signature(secret: str, timestamp: int, raw_body: bytes) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}.{raw_body}"`` under ``secret``."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + raw_body, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], timestamp: int, raw_body: bytes) -> str:
    """One ``v1`` per active secret, newest first (two while a rotation's grace period runs)."""
    if not secrets:
        raise ValueError("no active signing secret")
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, raw_body)}" for s in secrets)])
