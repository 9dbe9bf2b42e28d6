"""The payout provider interface (bank / e-wallet transfers) and its HTTP client.

A provider is **idempotent on the request id**: submitting the same request id again never pays twice,
it answers the payout's current status. The wallet relies on that in exactly one place: when an
inquiry says the provider has never seen a request (``not_found``), the request is submitted again with
the *same* id (the first attempt may still arrive late; the provider then pays it once). Nothing is
ever submitted under a new id for the same withdrawal.

Answers:
- ``paid``: the money left; final.
- ``failed``: the provider declined; nothing was paid; final.
- ``pending``: accepted, not final yet (a callback or a later inquiry gives the result).
- ``not_found`` (inquiry only): the provider has no such request.

Anything else — a timeout, a connection error, a 5xx, a body we do not understand — is **unknown**:
:class:`PayoutUnknownError`. The caller keeps the money held and asks again later by inquiry.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from earnloop.config import Settings

Status = Literal["paid", "failed", "pending", "not_found"]
FINAL_STATUSES = frozenset({"paid", "failed"})
_KNOWN = frozenset({"paid", "failed", "pending"})
SIGNATURE_HEADER = "X-Payout-Signature"


class PayoutUnknownError(Exception):
    """The provider's answer is unknown (timeout, connection error, 5xx, unreadable answer)."""


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    request_id: str
    amount: int
    currency: str
    destination_kind: str
    institution: str
    holder_name: str
    account_number: str

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "amount": self.amount,
            "currency": self.currency,
            "destination": {
                "kind": self.destination_kind,
                "institution": self.institution,
                "holder_name": self.holder_name,
                "account_number": self.account_number,
            },
        }

    def __repr__(self) -> str:  # never print the account number
        return (
            f"PayoutRequest(request_id={self.request_id!r}, amount={self.amount}, currency={self.currency})"
        )


@dataclass(frozen=True, slots=True)
class PayoutAnswer:
    request_id: str
    status: Status
    provider_ref: str | None = None
    reason: str | None = None

    @classmethod
    def parse(cls, body: Any, request_id: str) -> PayoutAnswer:
        """A provider answer, or :class:`PayoutUnknownError` when it is not one we understand."""
        if not isinstance(body, dict) or body.get("status") not in _KNOWN:
            raise PayoutUnknownError("unreadable provider answer")
        if body.get("request_id") != request_id:
            raise PayoutUnknownError("provider answered for another request")
        ref, reason = body.get("provider_ref"), body.get("reason")
        return cls(
            request_id=request_id,
            status=body["status"],
            provider_ref=str(ref)[:80] if ref is not None else None,
            reason=str(reason)[:200] if reason is not None else None,
        )


class PayoutProvider(Protocol):
    def submit(self, request: PayoutRequest) -> PayoutAnswer:
        """Ask for a payout; idempotent on ``request.request_id``. Raises :class:`PayoutUnknownError`."""
        ...

    def inquire(self, request_id: str) -> PayoutAnswer:
        """The payout's status (``not_found`` when unknown). Raises :class:`PayoutUnknownError`."""
        ...


class HttpPayoutProvider:
    """A provider reached over HTTP: ``POST {base}/payouts`` and ``GET {base}/payouts/{request_id}``."""

    def __init__(self, base_url: str, *, timeout_s: float, client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.Client(timeout=timeout_s)

    def submit(self, request: PayoutRequest) -> PayoutAnswer:
        response = self._call("POST", "/payouts", json=request.to_json())
        if response.status_code != 200:
            raise PayoutUnknownError(f"provider answered HTTP {response.status_code}")
        return PayoutAnswer.parse(_json(response), request.request_id)

    def inquire(self, request_id: str) -> PayoutAnswer:
        response = self._call("GET", f"/payouts/{request_id}")
        if response.status_code == 404:
            return PayoutAnswer(request_id, "not_found")
        if response.status_code != 200:
            raise PayoutUnknownError(f"provider answered HTTP {response.status_code}")
        return PayoutAnswer.parse(_json(response), request_id)

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, self.base_url + path, **kwargs)
        except httpx.HTTPError as exc:  # timeouts, refused connections, protocol errors
            raise PayoutUnknownError(f"{type(exc).__name__} calling the payout provider") from exc

    def close(self) -> None:
        self._client.close()


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise PayoutUnknownError("provider answer is not JSON") from exc


def sign(secret: str, body: bytes) -> str:
    """Signature of a provider callback body: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, signature: str | None) -> bool:
    return signature is not None and hmac.compare_digest(sign(secret, body), signature)


class PayoutConfigError(RuntimeError):
    """Production without a real payout provider configured."""


def require_real_provider(settings: Settings) -> None:
    """In production a payout provider URL is mandatory: the fake bank is for demos and tests only."""
    if settings.environment == "production" and not settings.payout_provider_url:
        raise PayoutConfigError(
            "EARNLOOP_PAYOUT_PROVIDER_URL must be set when EARNLOOP_ENVIRONMENT=production"
        )


def provider_from_settings(settings: Settings) -> HttpPayoutProvider:
    """The configured provider; unset, the demo's fake provider served by ``earnloop serve``."""
    require_real_provider(settings)
    url = settings.payout_provider_url or f"http://{settings.host}:{settings.port}/fake-payouts"
    return HttpPayoutProvider(url, timeout_s=settings.payout_timeout_s)
