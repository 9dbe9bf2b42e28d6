"""What every postback provider shares: the request as received (:class:`RawPostback`), the verified
event (:class:`VerifiedPostback`), the rejection with its stable :class:`ReasonCode`, the verifier
protocol, and the parsing and constant-time comparison helpers the providers' verifiers use (see
:mod:`earnloop.tracking.verifiers` for the rules every verifier follows)."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl

MAX_ID_LENGTH = 200  # transaction / click ids longer than this are malformed, not stored


class ReasonCode(StrEnum):
    """Why a postback was rejected (stable strings: logged, counted in metrics, shown to operators)."""

    BAD_SIGNATURE = "bad_signature"
    STALE_TIMESTAMP = "stale_timestamp"
    MISSING_FIELD = "missing_field"
    MALFORMED = "malformed"
    IP_NOT_ALLOWED = "ip_not_allowed"
    UNKNOWN_PROVIDER = "unknown_provider"


class PostbackRejected(Exception):  # noqa: N818 -- the name is part of the interface
    """The postback is not an authentic, well-formed callback from the provider it claims to be from."""

    def __init__(self, reason_code: ReasonCode, message: str) -> None:
        super().__init__(f"{reason_code.value}: {message}")
        self.reason_code = reason_code
        self.message = message


@dataclass(frozen=True)
class RawPostback:
    """An inbound request exactly as received.

    ``query_string`` is the raw text after ``?`` (still percent-encoded); ``body`` the raw bytes;
    ``client_ip`` the peer address as resolved by the trusted proxy layer (never a client-supplied
    ``X-Forwarded-For`` taken at face value).
    """

    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes
    client_ip: str

    def header(self, name: str) -> str | None:
        """The value of a header, by case-insensitive name."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


@dataclass(frozen=True)
class VerifiedPostback:
    """What an authenticated postback claims.

    * ``click_id``: the opaque id *we* handed the provider (click id on a tracking link, or the per-user
      token an offerwall echoes back as its user id); bound to a recorded click later.
    * ``reported_amount``: the provider's claim, in the provider's unit (virtual currency, revenue…).
      NEVER trusted for money — see the module docstring. ``None`` when not reported.
    * ``is_reversal``: a chargeback / reversal of an earlier conversion; ``reverses_transaction_id`` is
      that conversion's transaction id when the provider tells us.
    * ``signed_fields``: the fields the signature actually covered (empty when nothing is signed), so
      that callers never rely on an unsigned value for a decision.
    * ``app_id``: the app the provider says the event happened in (AppsFlyer), checked against the
      game's app before anything is paid; ``None`` when the provider does not say.
    * ``rejected_reason``: the provider itself rejected the install or event (AppsFlyer's
      ``is_rejected`` / ``reject_reason``): it pays nothing and takes back what the event was paid.
    """

    provider: str
    transaction_id: str
    click_id: str
    event_key: str
    reported_amount: Decimal | None
    is_reversal: bool
    signed_fields: frozenset[str]
    reverses_transaction_id: str | None = None
    app_id: str | None = None
    rejected_reason: str | None = None


@runtime_checkable
class PostbackVerifier(Protocol):
    """Authenticates one provider's postbacks."""

    @property
    def name(self) -> str:
        """The provider name (registry key, ``VerifiedPostback.provider``)."""
        ...

    @property
    def success_content_type(self) -> str:
        """``Content-Type`` of :meth:`success_body`."""
        ...

    def verify(self, request: RawPostback, secrets: Sequence[str], now_s: int) -> VerifiedPostback:
        """Return what the postback claims, or raise :class:`PostbackRejected`."""
        ...

    def success_body(self) -> bytes:
        """The response body the provider expects on success (with HTTP 200)."""
        ...


# --------------------------------------------------------------------------------------------- helpers


def reject(code: ReasonCode, message: str) -> PostbackRejected:
    return PostbackRejected(code, message)


def active_secrets(secrets: Sequence[str]) -> list[bytes]:
    active = [s.encode() for s in secrets if s]
    if not active:
        # A configuration error, not the sender's fault: never "verify" against an empty key.
        raise ValueError("no active secret configured for this provider")
    return active


def any_digest_matches(expected: Iterable[str], candidates: Sequence[str]) -> bool:
    """Constant-time: every expected digest is compared with every candidate, no early exit."""
    matched = False
    for digest in expected:
        for candidate in candidates:
            matched |= hmac.compare_digest(digest.encode(), candidate.encode())
    return matched


def parse_query(raw: str) -> dict[str, str]:
    """Strictly decode ``application/x-www-form-urlencoded`` text; repeated keys are malformed."""
    if not raw:
        return {}
    try:
        pairs = parse_qsl(
            raw,
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=64,
        )
    except ValueError as exc:  # includes UnicodeDecodeError
        raise reject(ReasonCode.MALFORMED, f"unparseable query string ({type(exc).__name__})") from exc
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise reject(ReasonCode.MALFORMED, f"parameter {key!r} repeated")
        params[key] = value
    return params


def required(params: Mapping[str, object], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise reject(ReasonCode.MISSING_FIELD, f"{name} is missing")
    if not isinstance(value, str):
        raise reject(ReasonCode.MALFORMED, f"{name} must be a string")
    if len(value) > MAX_ID_LENGTH:
        raise reject(ReasonCode.MALFORMED, f"{name} is longer than {MAX_ID_LENGTH} characters")
    return value


def parse_amount(value: object, name: str) -> Decimal | None:
    """An exact decimal (no floats); ``None`` when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise reject(ReasonCode.MALFORMED, f"{name} is not a number")
    try:
        amount = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation as exc:
        raise reject(ReasonCode.MALFORMED, f"{name} is not a number") from exc
    if not amount.is_finite():
        raise reject(ReasonCode.MALFORMED, f"{name} is not a finite number")
    return amount


def networks(cidrs: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=True) for c in cidrs)


def check_ip(client_ip: str, allowed: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> None:
    try:
        address = ipaddress.ip_address(client_ip.strip())
    except ValueError as exc:
        raise reject(ReasonCode.IP_NOT_ALLOWED, "client IP is not an IP address") from exc
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:a.b.c.d from a dual-stack listener
    if not any(address in network for network in allowed):
        raise reject(ReasonCode.IP_NOT_ALLOWED, f"{address} is not in the provider's published ranges")
