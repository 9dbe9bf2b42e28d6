"""Tracking: inbound postbacks (server callbacks) from offerwalls and attribution providers.

``verifiers`` authenticates a raw postback and extracts what it claims; binding the claim to a recorded
click, deduplicating on the provider's transaction id and moving money belong to later layers.
"""

from earnloop.tracking.verifiers import (
    PostbackRejected,
    PostbackVerifier,
    RawPostback,
    ReasonCode,
    VerifiedPostback,
    sign_generic,
    verifier_for,
)

__all__ = [
    "PostbackRejected",
    "PostbackVerifier",
    "RawPostback",
    "ReasonCode",
    "VerifiedPostback",
    "sign_generic",
    "verifier_for",
]
