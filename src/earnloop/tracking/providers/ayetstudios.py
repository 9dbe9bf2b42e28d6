"""Postback verifier of one provider. ayeT-Studios: HMAC-SHA256 of the canonical query in a request
header, from published callback IPs."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote_plus

from earnloop.tracking.providers.base import (
    RawPostback,
    ReasonCode,
    VerifiedPostback,
    active_secrets,
    any_digest_matches,
    check_ip,
    networks,
    parse_amount,
    parse_query,
    reject,
    required,
)

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
        keys = active_secrets(secrets)
        if self.allowed_networks:
            check_ip(request.client_ip, networks(self.allowed_networks))
        params = parse_query(request.query_string)
        for key in params:
            if any(c in key for c in ".[] ") or not key:
                raise reject(ReasonCode.MALFORMED, f"parameter name {key!r} is not canonicalisable")
        signature = request.header(AYET_SIGNATURE_HEADER)
        if not signature:
            raise reject(ReasonCode.BAD_SIGNATURE, f"no {AYET_SIGNATURE_HEADER} header")
        canonical = ayet_canonical_query(params).encode()
        expected = [hmac.new(key, canonical, hashlib.sha256).hexdigest() for key in keys]
        if not any_digest_matches(expected, [signature.strip().lower()]):
            raise reject(ReasonCode.BAD_SIGNATURE, "security hash does not match")

        transaction_id = required(params, "transaction_id")
        click_id = required(params, "external_identifier")
        flag = params.get("is_chargeback", "0")
        if flag not in {"0", "1"}:
            raise reject(ReasonCode.MALFORMED, "is_chargeback must be 0 or 1")
        amount = parse_amount(params.get("currency_amount"), "currency_amount")
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
