"""Verifiers for inbound postbacks (server-to-server callbacks) from offerwalls and attribution providers.

A verifier turns a :class:`RawPostback` — the request exactly as received: method, path, raw query string,
headers, raw body bytes, client IP — into a :class:`VerifiedPostback`, or raises :class:`PostbackRejected`
with a stable :class:`ReasonCode`. Verifiers are pure functions of their inputs (``now_s`` is passed in):
no I/O, no database, no clock.

Rules every verifier follows:

* Signatures are checked over what was received. Our own scheme signs the raw body bytes; never
  re-serialise a body before verifying it. Providers that sign *parameter values* (Tapjoy) or a
  canonical re-encoding of the parameters (ayeT-Studios) are reproduced exactly as they publish it.
* Every digest comparison is constant-time (``hmac.compare_digest``), against every active secret with no
  early exit, so a rotation (two secrets) costs the same whichever one matches.
* A query string with a repeated parameter is rejected as ``malformed`` (parameter pollution: the
  signature would cover one value and the application could read the other).
* ``VerifiedPostback.reported_amount`` is what the provider *claims*. It is never trusted for money: the
  amount credited comes from our own offer/campaign terms for the bound click; the reported amount is
  kept for reconciliation and anomaly checks only.
* A verified postback is not yet a unique one: within the tolerance window (or forever, for providers
  without a timestamp) a replay verifies again. Deduplicate on ``(provider, transaction_id)``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl, quote_plus

from earnloop import bounds

__all__ = [
    "APPSFLYER_PUSH_NETWORKS",
    "APPSFLYER_TOKEN_HEADER",
    "AYET_CALLBACK_NETWORKS",
    "GENERIC_SIGNATURE_HEADER",
    "GENERIC_TOLERANCE_S",
    "AppsFlyerPushVerifier",
    "AyetStudiosVerifier",
    "GenericVerifier",
    "PostbackRejected",
    "PostbackVerifier",
    "RawPostback",
    "ReasonCode",
    "Registry",
    "TapjoyVerifier",
    "VerifiedPostback",
    "registry",
    "sign_generic",
    "verifier_for",
]

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


def _reject(code: ReasonCode, message: str) -> PostbackRejected:
    return PostbackRejected(code, message)


def _active_secrets(secrets: Sequence[str]) -> list[bytes]:
    active = [s.encode() for s in secrets if s]
    if not active:
        # A configuration error, not the sender's fault: never "verify" against an empty key.
        raise ValueError("no active secret configured for this provider")
    return active


def _any_digest_matches(expected: Iterable[str], candidates: Sequence[str]) -> bool:
    """Constant-time: every expected digest is compared with every candidate, no early exit."""
    matched = False
    for digest in expected:
        for candidate in candidates:
            matched |= hmac.compare_digest(digest.encode(), candidate.encode())
    return matched


def _parse_query(raw: str) -> dict[str, str]:
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
        raise _reject(ReasonCode.MALFORMED, f"unparseable query string ({type(exc).__name__})") from exc
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise _reject(ReasonCode.MALFORMED, f"parameter {key!r} repeated")
        params[key] = value
    return params


def _required(params: Mapping[str, object], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise _reject(ReasonCode.MISSING_FIELD, f"{name} is missing")
    if not isinstance(value, str):
        raise _reject(ReasonCode.MALFORMED, f"{name} must be a string")
    if len(value) > MAX_ID_LENGTH:
        raise _reject(ReasonCode.MALFORMED, f"{name} is longer than {MAX_ID_LENGTH} characters")
    return value


def _amount(value: object, name: str) -> Decimal | None:
    """An exact decimal (no floats); ``None`` when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise _reject(ReasonCode.MALFORMED, f"{name} is not a number")
    try:
        amount = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation as exc:
        raise _reject(ReasonCode.MALFORMED, f"{name} is not a number") from exc
    if not amount.is_finite():
        raise _reject(ReasonCode.MALFORMED, f"{name} is not a finite number")
    return amount


def _networks(cidrs: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=True) for c in cidrs)


def _check_ip(client_ip: str, allowed: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> None:
    try:
        address = ipaddress.ip_address(client_ip.strip())
    except ValueError as exc:
        raise _reject(ReasonCode.IP_NOT_ALLOWED, "client IP is not an IP address") from exc
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:a.b.c.d from a dual-stack listener
    if not any(address in network for network in allowed):
        raise _reject(ReasonCode.IP_NOT_ALLOWED, f"{address} is not in the provider's published ranges")


# ------------------------------------------------------------------------------ (1) earnloop generic

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
        keys = _active_secrets(secrets)
        header = request.header(GENERIC_SIGNATURE_HEADER)
        if header is None:
            raise _reject(ReasonCode.BAD_SIGNATURE, f"no {GENERIC_SIGNATURE_HEADER} header")
        timestamp, candidates = self._parse_header(header)
        expected = [_generic_digest(key, timestamp, request.body) for key in keys]
        if not _any_digest_matches(expected, candidates):
            raise _reject(ReasonCode.BAD_SIGNATURE, "no signature matches")
        if abs(now_s - int(timestamp)) > self.tolerance_s:
            raise _reject(ReasonCode.STALE_TIMESTAMP, f"timestamp is more than {self.tolerance_s} s from now")
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
                raise _reject(ReasonCode.MALFORMED, f"{GENERIC_SIGNATURE_HEADER} item without '='")
            if key == "t":
                if timestamp is not None or not (value.isascii() and value.isdigit()):
                    raise _reject(ReasonCode.MALFORMED, "bad or repeated t")
                if len(value) > _MAX_TIMESTAMP_DIGITS:
                    raise _reject(ReasonCode.MALFORMED, "t is too long")
                timestamp = value
            elif key == "v1":
                if len(value) != 64 or not all(c in "0123456789abcdef" for c in value):
                    raise _reject(ReasonCode.MALFORMED, "v1 is not a lowercase hex SHA-256 digest")
                candidates.append(value)
            # other schemes (v0, future v2) are ignored, like Stripe
        if timestamp is None or not candidates:
            raise _reject(ReasonCode.MALFORMED, f"{GENERIC_SIGNATURE_HEADER} needs t= and at least one v1=")
        return timestamp, candidates

    def _claims(self, body: bytes) -> VerifiedPostback:
        try:
            data = bounds.loads(body, parse_float=Decimal)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            raise _reject(ReasonCode.MALFORMED, "body is not JSON") from exc
        if not isinstance(data, dict):
            raise _reject(ReasonCode.MALFORMED, "body is not a JSON object")
        reversal = data.get("reversal", False)
        if not isinstance(reversal, bool):
            raise _reject(ReasonCode.MALFORMED, "reversal must be a boolean")
        amount = _amount(data.get("amount"), "amount")
        reverses = data.get("reverses_transaction_id")
        if reverses is not None and (not isinstance(reverses, str) or len(reverses) > MAX_ID_LENGTH):
            raise _reject(ReasonCode.MALFORMED, "reverses_transaction_id must be a short string")
        transaction_id = _required(data, "transaction_id")
        if reverses == transaction_id:  # it would be answered as a duplicate of the conversion itself
            raise _reject(ReasonCode.MALFORMED, "a reversal needs a transaction_id of its own")
        return VerifiedPostback(
            provider=self.name,
            transaction_id=transaction_id,
            click_id=_required(data, "click_id"),
            event_key=_required(data, "event"),
            reported_amount=amount,
            is_reversal=reversal or (amount is not None and amount < 0),
            signed_fields=frozenset({"t", *data.keys()}),  # the whole raw body is signed
            reverses_transaction_id=reverses,
        )


# -------------------------------------------------------------- (2) Tapjoy: MD5 of parameters + secret


@dataclass(frozen=True)
class TapjoyVerifier:
    """Tapjoy Offerwall, self-managed currency callback — MD5 of parameters plus secret.

    ``GET <callback_url>?snuid=<user id>&currency=<amount>&mac_address=…&id=<request id>&verifier=<md5>``
    where ``verifier = md5_hex(f"{id}:{snuid}:{currency}:{secret_key}")`` over the parameter *values*
    (decoded, as Tapjoy's own sample reads ``params[...]``), the secret being the virtual-currency secret
    key (not the SDK key). ``id`` is unique per reward: the transaction id — a reused id is fraud.
    ``snuid`` is the user id the app set (``setUserId``): we set it to our opaque click/user token.
    Only ``id``, ``snuid`` and ``currency`` are signed; ``mac_address`` and anything else is not.

    Response: HTTP 200 = credited (body unused, must be UTF-8); 403 = verifier mismatch / unknown
    snuid / do not retry; anything else is retried every ~5 min for 4 days. There is no timestamp, so
    replay protection is the ``id`` dedup. Tapjoy publishes no reversal callback; a negative
    ``currency`` is parsed as a reversal defensively (assumption, not documented by Tapjoy).

    Sources:
    https://docs.unity.com/en-us/grow/offerwall/monetization/virtual-currency/self-managed-currency
    (callback URL, 200/403 semantics, retries, ``id`` and ``verifier`` = MD5 of id, snuid, currency and
    secret key); Tapjoy's sample implementation with the exact concatenation
    ``Digest::MD5.hexdigest("#{id}:#{snuid}:#{currency}:#{secret_key}")``:
    https://gist.github.com/doomspork/5062375
    """

    name: str = "tapjoy"
    success_content_type: str = "text/plain; charset=utf-8"
    signed: frozenset[str] = frozenset({"id", "snuid", "currency"})

    def success_body(self) -> bytes:
        return b""

    def verify(self, request: RawPostback, secrets: Sequence[str], now_s: int) -> VerifiedPostback:
        keys = _active_secrets(secrets)
        params = _parse_query(request.query_string)
        transaction_id = _required(params, "id")
        snuid = _required(params, "snuid")
        currency = params.get("currency")
        if currency is None or currency == "":
            raise _reject(ReasonCode.MISSING_FIELD, "currency is missing")
        verifier = params.get("verifier")
        if not verifier:
            raise _reject(ReasonCode.BAD_SIGNATURE, "no verifier parameter")
        expected = [
            hashlib.md5(
                f"{transaction_id}:{snuid}:{currency}:".encode() + key, usedforsecurity=False
            ).hexdigest()
            for key in keys
        ]
        if not _any_digest_matches(expected, [verifier.lower()]):
            raise _reject(ReasonCode.BAD_SIGNATURE, "verifier does not match")
        amount = _amount(currency, "currency")
        return VerifiedPostback(
            provider=self.name,
            transaction_id=transaction_id,
            click_id=snuid,
            event_key="reward",
            reported_amount=amount,
            is_reversal=amount is not None and amount < 0,
            signed_fields=self.signed,
        )


# ------------------------------------------------- (3) ayeT-Studios: HMAC-SHA256 in a request header

AYET_SIGNATURE_HEADER = "X-Ayetstudios-Security-Hash"
# Published callback server IPs ("check back regularly"; list dated 2025-01-30).
AYET_CALLBACK_NETWORKS: tuple[str, ...] = (
    "51.79.101.241/32",
    "158.69.185.134/32",
    "158.69.185.154/32",
    "35.165.166.40/32",
    "35.166.159.131/32",
    "52.40.3.140/32",
)


def _php_urlencode(text: str) -> str:
    """PHP ``urlencode`` (what ``http_build_query`` uses): RFC 1738, space → ``+``, ``~`` → ``%7E``."""
    return quote_plus(text, safe="", encoding="utf-8").replace("~", "%7E")


def ayet_canonical_query(params: Mapping[str, str]) -> str:
    """``http_build_query`` of the parameters sorted by name (``ksort``, byte order), as ayeT signs it."""
    ordered = sorted(params.items(), key=lambda item: item[0].encode())
    return "&".join(f"{_php_urlencode(k)}={_php_urlencode(v)}" for k, v in ordered)


@dataclass(frozen=True)
class AyetStudiosVerifier:
    """ayeT-Studios offerwall conversion callbacks — HMAC-SHA256 in a header, plus their IP allow-list.

    ``GET`` to our callback URL, whose macros we choose:
    ``?transaction_id={transaction_id}&external_identifier={external_identifier}``
    ``&currency_amount={currency_amount}&payout_usd={payout_usd}&is_chargeback={is_chargeback}``
    ``&offer_id={offer_id}``. ayeT always adds ``X-Ayetstudios-Security-Hash`` = hex
    HMAC-SHA256(publisher API key, ``http_build_query(ksort($_GET))``): the signature covers *every*
    query parameter, but over a canonical re-encoding (sorted by name, PHP ``urlencode``), which we
    reproduce exactly (``ayet_canonical_query``); parameter names PHP would mangle (``.``, space, ``[``)
    are rejected as malformed rather than guessed at.

    Reversals (when "Enable Reversal Callbacks" is on): ``is_chargeback=1``, the transaction id is the
    original one prefixed with ``r-`` and ``currency_amount`` is negative. ``external_identifier`` is
    the user id we put in the offerwall URL: our opaque click/user token. No timestamp: replay
    protection is the ``transaction_id`` dedup. Requests are also checked against the published callback
    IPs (configurable; pass ``allowed_networks=()`` to disable). Response: HTTP 200 (body unspecified);
    anything else is resent 12 times over an hour.

    Sources:
    https://docs.ayetstudios.com/v/product-docs/callbacks-and-testing/callback-verification/hmac-security-hash-optional
    (header name, ksort + http_build_query, hash_hmac sha256 with the API key);
    https://docs.ayetstudios.com/v/product-docs/callbacks-and-testing/callbacks/offerwall-callbacks
    (macros, HTTP 200, ``r-`` prefix, ``is_chargeback``, negative amount on chargebacks);
    https://docs.ayetstudios.com/v/product-docs/callbacks-and-testing/callbacks/ip-whitelist
    """

    name: str = "ayetstudios"
    allowed_networks: tuple[str, ...] = AYET_CALLBACK_NETWORKS
    success_content_type: str = "text/plain; charset=utf-8"

    def success_body(self) -> bytes:
        return b""

    def verify(self, request: RawPostback, secrets: Sequence[str], now_s: int) -> VerifiedPostback:
        keys = _active_secrets(secrets)
        if self.allowed_networks:
            _check_ip(request.client_ip, _networks(self.allowed_networks))
        params = _parse_query(request.query_string)
        for key in params:
            if any(c in key for c in ".[] ") or not key:
                raise _reject(ReasonCode.MALFORMED, f"parameter name {key!r} is not canonicalisable")
        signature = request.header(AYET_SIGNATURE_HEADER)
        if not signature:
            raise _reject(ReasonCode.BAD_SIGNATURE, f"no {AYET_SIGNATURE_HEADER} header")
        canonical = ayet_canonical_query(params).encode()
        expected = [hmac.new(key, canonical, hashlib.sha256).hexdigest() for key in keys]
        if not _any_digest_matches(expected, [signature.strip().lower()]):
            raise _reject(ReasonCode.BAD_SIGNATURE, "security hash does not match")

        transaction_id = _required(params, "transaction_id")
        click_id = _required(params, "external_identifier")
        flag = params.get("is_chargeback", "0")
        if flag not in {"0", "1"}:
            raise _reject(ReasonCode.MALFORMED, "is_chargeback must be 0 or 1")
        amount = _amount(params.get("currency_amount"), "currency_amount")
        is_reversal = flag == "1" or transaction_id.startswith("r-") or (amount is not None and amount < 0)
        reverses = transaction_id.removeprefix("r-") if transaction_id.startswith("r-") else None
        return VerifiedPostback(
            provider=self.name,
            transaction_id=transaction_id,
            click_id=click_id,
            event_key=params.get("offer_id") or "conversion",
            reported_amount=amount,
            is_reversal=is_reversal,
            signed_fields=frozenset(params),
            reverses_transaction_id=reverses,
        )


# ------------------------------------- (4) AppsFlyer Push API: a static token header + IP allow-list

# AppsFlyer's published egress blocks for postbacks and Push API messages.
APPSFLYER_PUSH_NETWORKS: tuple[str, ...] = ("45.92.116.0/22", "194.28.46.0/23")
APPSFLYER_TOKEN_HEADER = "Authorization"  # noqa: S105 -- AppsFlyer's default token *name*
_TRUE = frozenset({True, "1", "true", "True", "TRUE"})  # True == 1: the number 1 too
_FALSE = frozenset({False, "0", "false", "False", "FALSE"})


def _rejected_reason(data: Mapping[str, object]) -> str | None:
    """Why AppsFlyer rejected the install or event (``is_rejected`` / ``reject_reason``), or ``None``."""
    flag = data.get("is_rejected", False)
    if flag is None or flag == "":
        flag = False
    if not isinstance(flag, bool | int | str) or (flag not in _TRUE and flag not in _FALSE):
        raise _reject(ReasonCode.MALFORMED, "is_rejected must be a boolean")
    reason = data.get("reject_reason")
    if reason is not None and not isinstance(reason, str):
        raise _reject(ReasonCode.MALFORMED, "reject_reason must be a string")
    if reason:
        return reason[:MAX_ID_LENGTH]
    return "rejected" if flag in _TRUE else None


@dataclass(frozen=True)
class AppsFlyerPushVerifier:
    """AppsFlyer Push API (raw attribution / in-app event messages) — a static token, nothing signed.

    AppsFlyer ``POST``s one JSON object per install or in-app event (``GET`` is an option we do not
    enable). Messages carry no signature. The advertiser sets an authentication token that AppsFlyer
    sends with every Push API message, in a header whose name is ``Authorization`` by default or one
    starting with ``X-`` (at most 30 characters; the token at most 2,000 characters of
    ``[ -_.a-zA-Z0-9]``). It is required: without a configured token the provider is not configured
    (503) and nothing is paid. The header named ``token_header`` must equal one of the active tokens
    exactly (constant-time; two during a rotation). AppsFlyer does not document whether a prefix such as
    ``Bearer`` is added, so the value is compared as received: store the token exactly as AppsFlyer
    sends it. It is a bearer token, not a signature: ``signed_fields`` stays empty. The source address
    must also be in AppsFlyer's published CIDR blocks (``ipaddress``; IPv4-mapped IPv6 normalised) — a
    second check, never the only one.

    Fields used: ``af_sub1`` (Sub Param 1, set on our attribution link to our click id — required),
    ``app_id`` (required: ``id<digits>`` for iOS, the package name for Android; checked against the
    game later), ``appsflyer_id``, ``event_name``, ``event_time`` (required; AppsFlyer has no
    per-message id, so the transaction id is ``"{appsflyer_id}:{event_name}:{event_time}"``),
    ``event_revenue`` (optional, untrusted), ``is_rejected`` / ``reject_reason`` (an install or event
    AppsFlyer rejected, e.g. by Protect360 or a validation rule: recorded as rejected, pays nothing and
    takes back what was paid for it). A negative ``event_revenue`` (a refund event) is parsed as a
    reversal (assumption). Messages are not resent if not collected, so answer HTTP 200 fast (body
    unused) and reconcile gaps with the Pull API.

    Sources:
    https://support.appsflyer.com/hc/en-us/articles/207034356-Push-API-streaming-raw-data (POST JSON,
    message types, IP allow-listing recommendation, no resend);
    https://dev.appsflyer.com/hc/reference/authentication-token ("Set Push API Authentication Token":
    ``token`` ≤ 2,000 characters of ``[ -_.a-zA-Z0-9]``; ``token_name`` is ``Authorization`` or starts
    with ``X-``, ≤ 30 characters, default ``Authorization``);
    https://support.appsflyer.com/hc/en-us/articles/207447093 (server IP list: 45.92.116.0/22,
    194.28.46.0/23); https://support.appsflyer.com/hc/en-us/articles/208387843-Raw-data-field-dictionary
    (``app_id``, ``appsflyer_id``, ``event_name``, ``event_time``, ``event_revenue``, ``af_sub1``…);
    https://support.appsflyer.com/hc/en-us/articles/115004744123 (rejected installs and in-app events:
    ``is_rejected``, ``reject_reason`` such as ``bots`` or ``ctit_anomalies``).
    """

    name: str = "appsflyer"
    allowed_networks: tuple[str, ...] = APPSFLYER_PUSH_NETWORKS
    token_header: str = APPSFLYER_TOKEN_HEADER
    success_content_type: str = "text/plain; charset=utf-8"

    def success_body(self) -> bytes:
        return b""

    def verify(self, request: RawPostback, secrets: Sequence[str], now_s: int) -> VerifiedPostback:
        tokens = [key.decode() for key in _active_secrets(secrets)]
        _check_ip(request.client_ip, _networks(self.allowed_networks))
        presented = request.header(self.token_header)
        if presented is None or not _any_digest_matches(tokens, [presented.strip()]):
            raise _reject(ReasonCode.BAD_SIGNATURE, f"{self.token_header} header missing or wrong")
        if request.method.upper() != "POST":
            raise _reject(ReasonCode.MALFORMED, "Push API messages are POSTed JSON")
        try:
            data = bounds.loads(request.body, parse_float=Decimal)
        except ValueError as exc:
            raise _reject(ReasonCode.MALFORMED, "body is not JSON") from exc
        if not isinstance(data, dict):
            raise _reject(ReasonCode.MALFORMED, "body is not a JSON object")
        appsflyer_id = _required(data, "appsflyer_id")
        event_name = _required(data, "event_name")
        event_time = _required(data, "event_time")
        amount = _amount(data.get("event_revenue"), "event_revenue")
        return VerifiedPostback(
            provider=self.name,
            transaction_id=f"{appsflyer_id}:{event_name}:{event_time}",
            click_id=_required(data, "af_sub1"),
            event_key=event_name,
            reported_amount=amount,
            is_reversal=amount is not None and amount < 0,
            signed_fields=frozenset(),
            app_id=_required(data, "app_id"),
            rejected_reason=_rejected_reason(data),
        )


# ---------------------------------------------------------------------------------------- registry

Registry = Mapping[str, PostbackVerifier]


def registry(
    *,
    appsflyer_networks: Sequence[str] = APPSFLYER_PUSH_NETWORKS,
    appsflyer_token_header: str = APPSFLYER_TOKEN_HEADER,
) -> Registry:
    """Every provider's verifier, AppsFlyer's with the allow-list and token header of the settings."""
    appsflyer = AppsFlyerPushVerifier(
        allowed_networks=tuple(appsflyer_networks), token_header=appsflyer_token_header
    )
    return {v.name: v for v in (GenericVerifier(), TapjoyVerifier(), AyetStudiosVerifier(), appsflyer)}


_DEFAULT_REGISTRY = registry()
PROVIDERS = frozenset(_DEFAULT_REGISTRY)


def verifier_for(provider_name: str, verifiers: Registry | None = None) -> PostbackVerifier:
    """The verifier for a provider name (``earnloop``, ``tapjoy``, ``ayetstudios``, ``appsflyer``)."""
    try:
        return (verifiers or _DEFAULT_REGISTRY)[provider_name]
    except KeyError:
        raise PostbackRejected(ReasonCode.UNKNOWN_PROVIDER, f"no verifier for {provider_name!r}") from None
