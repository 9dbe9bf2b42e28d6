"""A software WebAuthn authenticator for the tests: an EC P-256 key (``cryptography``) that answers the
server's options the way a browser and a platform authenticator would — ``none`` attestation for
``navigator.credentials.create``, signed assertions for ``navigator.credentials.get`` — and that can be
told to lie (another origin, another RP id, another challenge, a sign count that does not grow)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ORIGIN = "http://localhost:8000"
RP_ID = "localhost"
UP, UV, AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SoftAuthenticator:
    """One credential on one authenticator; ``sign_count`` grows by one at every assertion."""

    def __init__(self, *, origin: str = ORIGIN, rp_id: str = RP_ID, sign_count: int = 0) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(16)
        self.origin = origin
        self.rp_id = rp_id
        self.sign_count = sign_count

    @property
    def id(self) -> str:
        return b64url(self.credential_id)

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        # COSE_Key: kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        )

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        values = {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        return json.dumps(values).encode()

    def _auth_data(self, rp_id: str | None, flags: int, extra: bytes = b"") -> bytes:
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        return rp_hash + bytes([flags]) + self.sign_count.to_bytes(4, "big") + extra

    def create(
        self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None, uv: bool = True
    ) -> dict[str, Any]:
        """The browser's answer to ``navigator.credentials.create({publicKey: options})``, as JSON."""
        attested = (
            bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id + self._cose_key()
        )
        auth_data = self._auth_data(rp_id, UP | AT | (UV if uv else 0), attested)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
        uv: bool = True,
        sign_count: int | None = None,
    ) -> dict[str, Any]:
        """The browser's answer to ``navigator.credentials.get({publicKey: options})``, as JSON; the
        keywords make it lie (``sign_count`` sets the count instead of counting up)."""
        self.sign_count = self.sign_count + 1 if sign_count is None else sign_count
        auth_data = self._auth_data(rp_id, UP | (UV if uv else 0))
        client_data = self._client_data("webauthn.get", challenge or options["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": None,
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }
