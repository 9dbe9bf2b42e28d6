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

Each provider's verifier lives in its own module under :mod:`earnloop.tracking.providers` (``earnloop``,
``tapjoy``, ``ayetstudios``, ``appsflyer``; what they share in ``providers/base.py``); this module is the
registry of them and the names the rest of the code imports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from earnloop.tracking.providers.appsflyer import (
    APPSFLYER_PUSH_NETWORKS,
    APPSFLYER_TOKEN_HEADER,
    AppsFlyerPushVerifier,
)
from earnloop.tracking.providers.ayetstudios import (
    AYET_CALLBACK_NETWORKS,
    AYET_SIGNATURE_HEADER,
    AyetStudiosVerifier,
)
from earnloop.tracking.providers.base import (
    MAX_ID_LENGTH,
    PostbackRejected,
    PostbackVerifier,
    RawPostback,
    ReasonCode,
    VerifiedPostback,
)
from earnloop.tracking.providers.earnloop import (
    GENERIC_SIGNATURE_HEADER,
    GENERIC_TOLERANCE_S,
    GenericVerifier,
    sign_generic,
)
from earnloop.tracking.providers.tapjoy import TapjoyVerifier

__all__ = [
    "APPSFLYER_PUSH_NETWORKS",
    "APPSFLYER_TOKEN_HEADER",
    "AYET_CALLBACK_NETWORKS",
    "AYET_SIGNATURE_HEADER",
    "GENERIC_SIGNATURE_HEADER",
    "GENERIC_TOLERANCE_S",
    "MAX_ID_LENGTH",
    "PROVIDERS",
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
