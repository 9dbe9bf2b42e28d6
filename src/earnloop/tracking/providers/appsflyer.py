"""Postback verifier of one provider. AppsFlyer Push API: a static token header and an IP allow-list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    check_ip,
    networks,
    parse_amount,
    reject,
    required,
)

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
        raise reject(ReasonCode.MALFORMED, "is_rejected must be a boolean")
    reason = data.get("reject_reason")
    if reason is not None and not isinstance(reason, str):
        raise reject(ReasonCode.MALFORMED, "reject_reason must be a string")
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
        tokens = [key.decode() for key in active_secrets(secrets)]
        check_ip(request.client_ip, networks(self.allowed_networks))
        presented = request.header(self.token_header)
        if presented is None or not any_digest_matches(tokens, [presented.strip()]):
            raise reject(ReasonCode.BAD_SIGNATURE, f"{self.token_header} header missing or wrong")
        if request.method.upper() != "POST":
            raise reject(ReasonCode.MALFORMED, "Push API messages are POSTed JSON")
        try:
            data = bounds.loads(request.body, parse_float=Decimal)
        except ValueError as exc:
            raise reject(ReasonCode.MALFORMED, "body is not JSON") from exc
        if not isinstance(data, dict):
            raise reject(ReasonCode.MALFORMED, "body is not a JSON object")
        appsflyer_id = required(data, "appsflyer_id")
        event_name = required(data, "event_name")
        event_time = required(data, "event_time")
        amount = parse_amount(data.get("event_revenue"), "event_revenue")
        return VerifiedPostback(
            provider=self.name,
            transaction_id=f"{appsflyer_id}:{event_name}:{event_time}",
            click_id=required(data, "af_sub1"),
            event_key=event_name,
            reported_amount=amount,
            is_reversal=amount is not None and amount < 0,
            signed_fields=frozenset(),
            app_id=required(data, "app_id"),
            rejected_reason=_rejected_reason(data),
        )
