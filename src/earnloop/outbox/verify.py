"""Sample receiver-side verifier for earnloop webhooks (the same code is in ``docs/webhooks.md``).

Copy it into your receiver: it needs only the standard library.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

TOLERANCE_S = 300  # reject timestamps more than 5 minutes away from now (replayed or stale requests)


class WebhookVerificationError(ValueError):
    """The request is not a fresh, authentic earnloop webhook."""


def verify_webhook(
    raw_body: bytes,
    signature_header: str,
    secrets: str | Iterable[str],
    *,
    tolerance_s: int = TOLERANCE_S,
    now: float | None = None,
) -> int:
    """Check ``Earnloop-Signature`` against the raw request body; return its timestamp.

    ``secrets``: your signing secret, or several while you rotate (any one matching is enough).
    Raises :class:`WebhookVerificationError` if the header is malformed, the timestamp is older (or
    further in the future) than ``tolerance_s``, or no ``v1`` signature matches.
    """
    timestamp: int | None = None
    signatures: list[str] = []
    for item in signature_header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookVerificationError("malformed Earnloop-Signature header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookVerificationError("timestamp outside the tolerance (stale or replayed request)")
    signed_payload = str(timestamp).encode() + b"." + raw_body
    for secret in [secrets] if isinstance(secrets, str) else list(secrets):
        expected = hmac.new(secret.encode(), signed_payload, hashlib.sha256).hexdigest()
        # Compare with every signature in constant time (no early exit on a match).
        if any(hmac.compare_digest(expected, candidate) for candidate in signatures):
            return timestamp
    raise WebhookVerificationError("no signature matches")
