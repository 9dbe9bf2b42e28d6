"""Postback verifier of one provider. The ``earnloop`` scheme (game publishers and merchants): HMAC-SHA256
over ``<t>.<raw body>`` in the ``Earnloop-Signature`` header, with a timestamp tolerance."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from earnloop import bounds
from earnloop.tracking.providers.base import (
    MAX_ID_LENGTH,
    RawPostback,
    ReasonCode,
    VerifiedPostback,
    active_secrets,
    any_digest_matches,
    parse_amount,
    reject,
    required,
)

GENERIC_SIGNATURE_HEADER = "Earnloop-Signature"
GENERIC_TOLERANCE_S = 300
_MAX_TIMESTAMP_DIGITS = 12


def _generic_digest(secret: bytes, timestamp: str, raw_body: bytes) -> str:
    return hmac.new(secret, timestamp.encode() + b"." + raw_body, hashlib.sha256).hexdigest()


def sign_generic(secret: str, body: bytes, t: int) -> str:
    """The ``Earnloop-Signature`` header value for ``body`` at unix time ``t`` (for partners' docs/tests)."""
    return f"t={t},v1={_generic_digest(secret.encode(), str(t), body)}"


@dataclass(frozen=True)
class GenericVerifier:
    """earnloop's own postback scheme, for partners without a scheme of their own.

    ``POST`` with a JSON object body and the header
    ``Earnloop-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>[,v1=…]`` — the same
    format as our outgoing webhooks (``docs/webhooks.md``). The signature is checked first, over the raw
    bytes, then ``|now - t| <= 300 s`` (so ``stale_timestamp`` is only ever said of an authentic but
    old request). Any ``v1`` may match any active secret (rotation: two secrets). The secrets are those
    of one partner: for game postbacks, the publisher of the game the body's ``click_id`` was recorded
    for (:meth:`click_id_hint`, ADR 0016); for affiliate conversions, the merchant's.

    Body fields: ``transaction_id`` (required, the partner's unique id), ``click_id`` (required, ours),
    ``event`` (required, event/milestone key), ``amount`` (optional decimal *string*, untrusted),
    ``reversal`` (optional bool; a negative amount is a reversal too), ``reverses_transaction_id``
    (the conversion a reversal cancels; a reversal without it is refused later as unreferenced; equal to
    ``transaction_id`` it is malformed: a reversal has a transaction id of its own). Success response:
    ``{"status":"ok"}``.

    Sources: Stripe's published scheme it mirrors —
    https://docs.stripe.com/webhooks#verify-manually (``t=…,v1=…``, HMAC-SHA256 of ``t.payload``,
    5-minute default tolerance); ours: ``src/earnloop/outbox/signing.py``, ``docs/webhooks.md``.
    """

    name: str = "earnloop"
    tolerance_s: int = GENERIC_TOLERANCE_S
    success_content_type: str = "application/json"

    def success_body(self) -> bytes:
        return b'{"status":"ok"}'

    def verify(self, request: RawPostback, secrets: Sequence[str], now_s: int) -> VerifiedPostback:
        keys = active_secrets(secrets)
        header = request.header(GENERIC_SIGNATURE_HEADER)
        if header is None:
            raise reject(ReasonCode.BAD_SIGNATURE, f"no {GENERIC_SIGNATURE_HEADER} header")
        timestamp, candidates = self._parse_header(header)
        expected = [_generic_digest(key, timestamp, request.body) for key in keys]
        if not any_digest_matches(expected, candidates):
            raise reject(ReasonCode.BAD_SIGNATURE, "no signature matches")
        if abs(now_s - int(timestamp)) > self.tolerance_s:
            raise reject(ReasonCode.STALE_TIMESTAMP, f"timestamp is more than {self.tolerance_s} s from now")
        return self._claims(request.body)

    @staticmethod
    def click_id_hint(body: bytes) -> str | None:
        """The ``click_id`` an (unverified) body names, or ``None``: it chooses whose secrets verify the
        signature (the clicked game's publisher's); the signature then covers that same click id."""
        try:
            data = bounds.loads(body, parse_float=Decimal)
        except ValueError:
            return None
        click_id = data.get("click_id") if isinstance(data, dict) else None
        if not isinstance(click_id, str) or not 0 < len(click_id) <= MAX_ID_LENGTH:
            return None
        return click_id

    @staticmethod
    def _parse_header(header: str) -> tuple[str, list[str]]:
        timestamp: str | None = None
        candidates: list[str] = []
        for item in header.split(","):
            key, sep, value = item.strip().partition("=")
            if not sep:
                raise reject(ReasonCode.MALFORMED, f"{GENERIC_SIGNATURE_HEADER} item without '='")
            if key == "t":
                if timestamp is not None or not (value.isascii() and value.isdigit()):
                    raise reject(ReasonCode.MALFORMED, "bad or repeated t")
                if len(value) > _MAX_TIMESTAMP_DIGITS:
                    raise reject(ReasonCode.MALFORMED, "t is too long")
                timestamp = value
            elif key == "v1":
                if len(value) != 64 or not all(c in "0123456789abcdef" for c in value):
                    raise reject(ReasonCode.MALFORMED, "v1 is not a lowercase hex SHA-256 digest")
                candidates.append(value)
            # other schemes (v0, future v2) are ignored, like Stripe
        if timestamp is None or not candidates:
            raise reject(ReasonCode.MALFORMED, f"{GENERIC_SIGNATURE_HEADER} needs t= and at least one v1=")
        return timestamp, candidates

    def _claims(self, body: bytes) -> VerifiedPostback:
        try:
            data = bounds.loads(body, parse_float=Decimal)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            raise reject(ReasonCode.MALFORMED, "body is not JSON") from exc
        if not isinstance(data, dict):
            raise reject(ReasonCode.MALFORMED, "body is not a JSON object")
        reversal = data.get("reversal", False)
        if not isinstance(reversal, bool):
            raise reject(ReasonCode.MALFORMED, "reversal must be a boolean")
        amount = parse_amount(data.get("amount"), "amount")
        reverses = data.get("reverses_transaction_id")
        if reverses is not None and (not isinstance(reverses, str) or len(reverses) > MAX_ID_LENGTH):
            raise reject(ReasonCode.MALFORMED, "reverses_transaction_id must be a short string")
        transaction_id = required(data, "transaction_id")
        if reverses == transaction_id:  # it would be answered as a duplicate of the conversion itself
            raise reject(ReasonCode.MALFORMED, "a reversal needs a transaction_id of its own")
        return VerifiedPostback(
            provider=self.name,
            transaction_id=transaction_id,
            click_id=required(data, "click_id"),
            event_key=required(data, "event"),
            reported_amount=amount,
            is_reversal=reversal or (amount is not None and amount < 0),
            signed_fields=frozenset({"t", *data.keys()}),  # the whole raw body is signed
            reverses_transaction_id=reverses,
        )
