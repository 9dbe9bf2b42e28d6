"""The sample verifier of docs/webhooks.md (shipped as ``earnloop.outbox.verify``) against the signer."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from earnloop.outbox.delivery import MAX_ATTEMPTS, retry_delay_s, schedule_s
from earnloop.outbox.signing import signature, signature_header
from earnloop.outbox.verify import TOLERANCE_S, WebhookVerificationError, verify_webhook

ROOT = Path(__file__).resolve().parents[2]
BODY = b'{"data":{"amount":100},"id":"evt_1","topic":"payment.succeeded"}'
OLD, NEW = "whsec_old", "whsec_new"


def test_valid_signature_returns_its_timestamp() -> None:
    now = int(time.time())
    assert verify_webhook(BODY, signature_header([NEW], now, BODY), NEW) == now
    assert verify_webhook(BODY, signature_header([NEW], now, BODY), [OLD, NEW]) == now


def test_tampered_body_is_rejected() -> None:
    header = signature_header([NEW], int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify_webhook(BODY.replace(b"100", b"900"), header, NEW)


def test_wrong_secret_is_rejected() -> None:
    header = signature_header([NEW], int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify_webhook(BODY, header, "whsec_guess")


@pytest.mark.parametrize("age_s", [TOLERANCE_S + 1, 3600, -(TOLERANCE_S + 1)])
def test_stale_or_future_timestamps_are_rejected(age_s: int) -> None:
    now = 1_800_000_000
    header = signature_header([NEW], now - age_s, BODY)  # correctly signed, but replayed later
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(BODY, header, NEW, now=now)
    assert verify_webhook(BODY, signature_header([NEW], now - TOLERANCE_S, BODY), NEW, now=now)


def test_the_timestamp_is_signed() -> None:
    now = int(time.time())
    forged = f"t={now},v1={signature(NEW, now - 3600, BODY)}"  # an old signature with a fresh t
    with pytest.raises(WebhookVerificationError):
        verify_webhook(BODY, forged, NEW)


def test_during_rotation_either_secret_verifies() -> None:
    now = int(time.time())
    header = signature_header([NEW, OLD], now, BODY)
    assert header.count("v1=") == 2
    assert verify_webhook(BODY, header, OLD) == now
    assert verify_webhook(BODY, header, NEW) == now
    with pytest.raises(WebhookVerificationError):
        verify_webhook(BODY, signature_header([NEW], now, BODY), OLD)  # after the grace period


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=00", "t=1700000000", "garbage"])
def test_malformed_headers_are_rejected(header: str) -> None:
    with pytest.raises(WebhookVerificationError, match="malformed"):
        verify_webhook(BODY, header, NEW)


def test_the_docs_carry_the_shipped_verifier() -> None:
    doc = (ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    shipped = (ROOT / "src" / "earnloop" / "outbox" / "verify.py").read_text(encoding="utf-8")
    assert shipped[shipped.index("import hashlib") :] in blocks


def test_retry_schedule_spans_about_25_hours() -> None:
    assert len(schedule_s()) == MAX_ATTEMPTS - 1
    assert 23 * 3600 <= sum(schedule_s()) <= 26 * 3600
    assert schedule_s() == sorted(schedule_s())
    delays = [retry_delay_s(n) for n in range(1, MAX_ATTEMPTS)]
    assert all(0.9 * s <= d <= 1.1 * s for s, d in zip(schedule_s(), delays, strict=True))
