"""Postback verifier of one provider. Tapjoy Offerwall: MD5 of the callback's parameters plus the secret."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from earnloop.tracking.providers.base import (
    RawPostback,
    ReasonCode,
    VerifiedPostback,
    active_secrets,
    any_digest_matches,
    parse_amount,
    parse_query,
    reject,
    required,
)


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
        keys = active_secrets(secrets)
        params = parse_query(request.query_string)
        transaction_id = required(params, "id")
        snuid = required(params, "snuid")
        currency = params.get("currency")
        if currency is None or currency == "":
            raise reject(ReasonCode.MISSING_FIELD, "currency is missing")
        verifier = params.get("verifier")
        if not verifier:
            raise reject(ReasonCode.BAD_SIGNATURE, "no verifier parameter")
        expected = [
            hashlib.md5(
                f"{transaction_id}:{snuid}:{currency}:".encode() + key, usedforsecurity=False
            ).hexdigest()
            for key in keys
        ]
        if not any_digest_matches(expected, [verifier.lower()]):
            raise reject(ReasonCode.BAD_SIGNATURE, "verifier does not match")
        amount = parse_amount(currency, "currency")
        return VerifiedPostback(
            provider=self.name,
            transaction_id=transaction_id,
            click_id=snuid,
            event_key="reward",
            reported_amount=amount,
            is_reversal=amount is not None and amount < 0,
            signed_fields=self.signed,
        )
