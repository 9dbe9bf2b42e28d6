"""How a partner list feed is signed (ADR 0026): Ed25519 (PyCA ``cryptography``) over a canonical
encoding of the document, our signing key in a file, partners' public keys as base64.

The signed message is ``b"earnloop-risk-feed/1\\n"`` followed by the document without its
``signature`` member, encoded as JSON with object keys sorted, no insignificant whitespace
(separators ``,`` and ``:``), non-ASCII characters as UTF-8 (not ``\\u`` escapes) and integers only —
RFC 8785 (JCS) for documents of strings, integers, ``null``, lists and objects, which is all a feed
holds. ``signature`` is the 64-byte signature in base64url without padding; public keys are the raw
32 bytes in standard base64. Owns the encoding, signing, verification and our key file; never logs or
shows a private key.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from earnloop.risk.list_errors import FeedRefusedError, FeedSigningKeyError, RiskInputError

FORMAT = "earnloop-risk-feed/1"
DOMAIN_SEPARATOR = (FORMAT + "\n").encode()
KEY_SETTING = "EARNLOOP_RISK_FEED_SIGNING_KEY_FILE"


def canonical_message(document: dict[str, Any]) -> bytes:
    """The bytes a feed's signature covers: the separator, then the canonical JSON of every member but
    ``signature``."""
    unsigned = {name: value for name, value in document.items() if name != "signature"}
    encoded = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return DOMAIN_SEPARATOR + encoded.encode("utf-8")


def sign(document: dict[str, Any], key: Ed25519PrivateKey) -> str:
    return base64.urlsafe_b64encode(key.sign(canonical_message(document))).rstrip(b"=").decode("ascii")


def verify(document: dict[str, Any], public_key: str) -> None:
    """Raise :class:`FeedRefusedError` unless ``document["signature"]`` is ``public_key``'s signature."""
    signature = document.get("signature")
    if not isinstance(signature, str) or not 80 <= len(signature) <= 90:
        raise FeedRefusedError("signature: a base64url Ed25519 signature is required")
    try:
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        parse_public_key(public_key).verify(raw, canonical_message(document))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise FeedRefusedError(
            f"the signature does not verify with {document.get('issuer')!r}'s public key: the feed was "
            "changed after signing, or signed with another key"
        ) from exc


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A partner's public key: the raw 32 bytes in standard base64."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        if len(raw) != 32:
            raise ValueError("not 32 bytes")
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise RiskInputError("public key: the raw 32-byte Ed25519 public key, in base64") from exc


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def generate_key_file(path: str | None) -> str:
    """Write a new private key (PKCS#8 PEM, mode 0600) to ``path``, which must not exist; return the
    public key to give partners."""
    if not path:
        raise FeedSigningKeyError(f"{KEY_SETTING} is not set: set it to the file the signing key goes to")
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise FeedSigningKeyError(f"{path} exists: a signing key is never overwritten") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return public_key_text(key)


def load_key_file(path: str | None) -> Ed25519PrivateKey:
    """Our signing key; a missing setting, file or bad key is a :class:`FeedSigningKeyError` that names
    the setting or the path, never the content."""
    if not path:
        raise FeedSigningKeyError(
            f"{KEY_SETTING} is not set: run `earnloop risk feeds keygen` with it set to export signed feeds"
        )
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as exc:
        raise FeedSigningKeyError(f"the signing key file {path} cannot be read ({exc.strerror})") from None
    except (ValueError, TypeError):
        raise FeedSigningKeyError(f"the signing key file {path} holds no unencrypted PEM key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise FeedSigningKeyError(f"the signing key file {path} holds a key that is not Ed25519")
    return key
