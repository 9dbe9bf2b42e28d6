"""Encryption at rest of carrier verification codes (ADR 0004: PyCA ``cryptography``'s Fernet).

The verification code must be stored recoverably — it is sent to the platform at every sync — so it is
encrypted, not digested. The key is ``EARNLOOP_EINVOICE_KEY`` (a Fernet key: urlsafe base64 of 32 random
bytes); production refuses to start without it, development generates ``var/einvoice_key`` (mode 0600)
like the admin token. Rotation later: :class:`cryptography.fernet.MultiFernet`, no data migration.
"""

from __future__ import annotations

import secrets
from typing import Protocol

from cryptography.fernet import Fernet, InvalidToken

from earnloop.config import Settings
from earnloop.einvoice.errors import EInvoiceConfigError
from earnloop.secretbox import dev_secret


class CodeCipher(Protocol):
    def encrypt(self, plaintext: str) -> str: ...

    def decrypt(self, token: str) -> str:
        """Raises :class:`CipherError` when the token was not made with this key or was altered."""
        ...


class CipherError(Exception):
    """A stored code cannot be decrypted (wrong key, altered value)."""


class FernetCodeCipher:
    """Authenticated encryption (AES-128-CBC + HMAC-SHA256) with a random IV per value."""

    def __init__(self, key: str | bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError) as exc:
            raise CipherError("stored verification code cannot be decrypted with the configured key") from exc

    def __repr__(self) -> str:  # never print the key
        return "FernetCodeCipher(<key>)"


def cipher_from_settings(settings: Settings) -> FernetCodeCipher:
    """The configured cipher; production requires ``EARNLOOP_EINVOICE_KEY``."""
    if settings.einvoice_key is not None:
        key = settings.einvoice_key.get_secret_value()
    elif settings.environment == "production":
        raise EInvoiceConfigError("EARNLOOP_EINVOICE_KEY must be set when EARNLOOP_ENVIRONMENT=production")
    else:
        key = dev_secret(settings.einvoice_key_file, Fernet.generate_key().decode("ascii"))
    try:
        return FernetCodeCipher(key)
    except ValueError as exc:
        raise EInvoiceConfigError(
            "EARNLOOP_EINVOICE_KEY must be a Fernet key (urlsafe base64 of 32 bytes)"
        ) from exc


def app_key_from_settings(settings: Settings) -> str:
    """The platform API key signing requests; production requires ``EARNLOOP_EINVOICE_APP_KEY``."""
    if settings.einvoice_app_key is not None:
        return settings.einvoice_app_key.get_secret_value()
    if settings.environment == "production":
        raise EInvoiceConfigError(
            "EARNLOOP_EINVOICE_APP_KEY must be set when EARNLOOP_ENVIRONMENT=production"
        )
    return dev_secret(settings.einvoice_app_key_file, secrets.token_urlsafe(24))
