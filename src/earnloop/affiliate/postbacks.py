"""Conversion postbacks from a merchant's affiliate partner, signed with our ``Earnloop-Signature``
scheme (HMAC-SHA256 over ``t.`` + the raw body, checked against the merchant's active secrets by
tracking's :class:`~earnloop.tracking.verifiers.GenericVerifier`), with a JSON object body:

``{"order_id": "A-1", "click_id": "…", "status": "pending|approved|declined|reversed",
"order_amount": 125000, "currency": "TWD", "category": "electronics", "event_time": "2026-12-04T10:00:00Z"}``

Every request is stored as received with its outcome; the update itself goes through
:func:`earnloop.affiliate.conversions.apply_update`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert

from earnloop import bounds
from earnloop.affiliate.conversions import (
    CLOSED,
    FIELDS,
    ConversionUpdate,
    Outcome,
    apply_update,
    parse_update,
    rejected,
)
from earnloop.affiliate.errors import UpdateRejected
from earnloop.affiliate.models import affiliate_requests as requests
from earnloop.affiliate.service import active_secrets
from earnloop.catalog import service as catalog
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine
from earnloop.secretbox import UNOPENED_HINT, SecretBox, SecretBoxError
from earnloop.tracking.service import Reply
from earnloop.tracking.verifiers import (
    GenericVerifier,
    PostbackRejected,
    RawPostback,
    ReasonCode,
    VerifiedPostback,
)

BODY_MAX_BYTES = 16 * 1024
_REDACTED_HEADERS = frozenset({"authorization", "cookie", "x-api-key"})


def update_from_body(body: bytes) -> ConversionUpdate:
    """The update a postback body carries, or :class:`PostbackRejected` (malformed / missing field)."""
    try:
        data = bounds.loads(body)
    except ValueError:
        raise PostbackRejected(ReasonCode.MALFORMED, "body is not JSON") from None
    if not isinstance(data, dict):
        raise PostbackRejected(ReasonCode.MALFORMED, "body is not a JSON object")
    try:
        return parse_update(data)
    except UpdateRejected as exc:
        raise PostbackRejected(ReasonCode(exc.code), exc.message) from None


@dataclass(frozen=True)
class AffiliateVerifier(GenericVerifier):
    """The generic scheme (same header, tolerance and raw-body signature) over our conversion body."""

    name: str = "affiliate"

    def _claims(self, body: bytes) -> VerifiedPostback:
        change = update_from_body(body)
        return VerifiedPostback(
            provider=self.name,
            transaction_id=change.order_id,
            click_id=change.click_id,
            event_key=change.status,
            reported_amount=Decimal(change.order_amount),
            is_reversal=change.status in CLOSED,
            signed_fields=frozenset({"t", *FIELDS}),  # the whole raw body is signed
        )


VERIFIER = AffiliateVerifier()


def handle_postback(
    conn: Connection,
    ledger: LedgerService,
    raw: RawPostback,
    *,
    merchant_id: int,
    now_ns: int,
    risk: RiskEngine,
    box: SecretBox | None = None,
) -> Reply:
    """Verify one postback, apply its update and record the request with its outcome. Never commits.
    ``box`` opens the merchant's stored secrets (default: the process's)."""
    outcome, change = _verified_outcome(conn, ledger, raw, merchant_id, now_ns, box, risk)
    headers = {k: ("<redacted>" if k.lower() in _REDACTED_HEADERS else v) for k, v in raw.headers.items()}
    record(
        conn,
        merchant_id=merchant_id,
        channel="postback",
        headers=headers,
        body=raw.body[:BODY_MAX_BYTES],
        client_ip=raw.client_ip,
        outcome=outcome,
        change=change,
        now_ns=now_ns,
    )
    return outcome.reply


def _verified_outcome(
    conn: Connection,
    ledger: LedgerService,
    raw: RawPostback,
    merchant_id: int,
    now_ns: int,
    box: SecretBox | None,
    risk: RiskEngine,
) -> tuple[Outcome, ConversionUpdate | None]:
    if len(raw.body) > BODY_MAX_BYTES:
        return rejected("malformed", f"body larger than {BODY_MAX_BYTES} bytes"), None
    if not catalog.merchant_exists(conn, merchant_id):
        return rejected("unknown_merchant", f"no merchant {merchant_id}"), None
    try:
        VERIFIER.verify(raw, active_secrets(conn, merchant_id, box), now_ns // 10**9)
    except PostbackRejected as exc:
        return rejected(exc.reason_code.value, exc.message), None
    except SecretBoxError:  # the keys were changed too early: ours to fix, the sender retries
        return rejected("not_configured", UNOPENED_HINT), None
    except ValueError:  # no active secret: our configuration, not the sender's fault (retryable)
        return rejected(
            "not_configured",
            f"no active secret for merchant {merchant_id}: set one with "
            f"PUT /v1/admin/affiliate/merchants/{merchant_id}/secrets"
            f" or `earnloop affiliate set-secret {merchant_id}`",
        ), None
    change = update_from_body(raw.body)  # verified above: it parses
    return apply_update(
        conn, ledger, merchant_id=merchant_id, change=change, now_ns=now_ns, risk=risk
    ), change


def record(
    conn: Connection,
    *,
    merchant_id: int,
    channel: str,
    headers: dict[str, Any],
    body: bytes,
    client_ip: str,
    outcome: Outcome,
    change: ConversionUpdate | None,
    now_ns: int,
    row_number: int | None = None,
) -> None:
    """Store one update request as received, with its outcome."""
    conn.execute(
        insert(requests).values(
            merchant_id=merchant_id,
            channel=channel,
            row_number=row_number,
            headers_json=json.dumps(headers, sort_keys=True),
            body=body,
            client_ip=client_ip[:64],
            outcome=outcome.outcome,
            reason_code=outcome.reason_code,
            order_id=None if change is None else change.order_id,
            click_id=None if change is None else change.click_id,
            status=None if change is None else change.status,
            order_amount=None if change is None else change.order_amount,
            reply_status=outcome.reply.status,
            received_at_ns=now_ns,
        )
    )
