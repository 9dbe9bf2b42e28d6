"""Secrets stored at rest, encrypted with rotating keys (ADR 0019): one box shared by every domain.

A value that must be read back (a webhook signing secret, a payout account number) is stored as
``enc1:<Fernet token>`` — PyCA ``cryptography``'s Fernet (ADR 0004) under a :class:`MultiFernet` built
from ``EARNLOOP_SECRETS_KEYS`` (comma-separated Fernet keys: the first encrypts, every one decrypts).
A stored value without the prefix is a legacy plaintext row: it is still read, and
:func:`reseal_columns` (``earnloop secrets rotate``) encrypts it. Production refuses to start without
keys; development generates ``var/secrets_keys`` (mode 0600).

A column holding such values says so with ``info=SEALED`` in its table definition; the rotate command
finds every such column in the metadata. A sealed value is random (a fresh IV each time), so a table
that must find a row by its secret stores :func:`digest` beside it. A hot path (postback verification)
opens with :meth:`SecretBox.open_cached`: the plaintext is kept in-process, keyed by the stored value, so
only the first use of a stored value pays the decryption. This module is a base floor: it imports no
domain.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Column, Connection, MetaData, select, update

from earnloop.config import Settings, get_settings

PREFIX = "enc1:"
SEALED: dict[str, Any] = {"sealed": True}  # ``Column(..., info=SEALED)``: the value is a sealed secret
SEALED_LEN = 400  # column width of a sealed value: a plaintext of up to ~200 bytes
PLAINTEXT_MAX_BYTES = 200
KEYS_MAX = 8
RESEAL_BATCH = 500
OPEN_CACHE_MAX = 1024  # stored values whose plaintext a box keeps (postback secrets: a few per partner)
DIGEST_LEN = 64  # hex SHA-256
FINGERPRINT_CONTEXT = (
    b"earnloop.secretbox.fingerprint\x00"  # the fingerprint key is derived, not a Fernet key
)
FINGERPRINT_HEX_LEN = 32


class SecretBoxError(Exception):
    """Keys missing or malformed, or a stored value that no configured key can open."""


UNOPENED_HINT = (
    "a stored secret cannot be opened with EARNLOOP_SECRETS_KEYS: add back the key it was sealed with"
    " (keep it until `earnloop secrets rotate` has run)"
)


def dev_secret(path: str, make: str) -> str:
    """The secret in ``path``, created (mode 0600) with ``make`` if missing — development only."""
    file = Path(path)
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(make + "\n")
    return file.read_text(encoding="utf-8").strip()


def digest(plaintext: str) -> str:
    """The lookup key of a secret stored sealed: hex SHA-256, unkeyed so that it survives key rotation
    and a migration can compute it. It identifies a row and never verifies anything; it suits secrets
    of ≥ 16 random characters (a guessable secret could be tested against it offline — ADR 0019)."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


class SecretBox:
    """Seal (encrypt with the first key) and open (decrypt with any key) secrets stored in columns."""

    def __init__(self, keys: Iterable[str | bytes]) -> None:
        key_list = [k for k in keys if k]
        if not 0 < len(key_list) <= KEYS_MAX:
            raise SecretBoxError(f"EARNLOOP_SECRETS_KEYS must hold 1–{KEYS_MAX} Fernet keys")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in key_list])
        except ValueError as exc:
            raise SecretBoxError(
                "EARNLOOP_SECRETS_KEYS: each key must be a Fernet key (urlsafe base64 of 32 bytes)"
            ) from exc
        first = key_list[0]
        self._fingerprint_key = hashlib.sha256(
            FINGERPRINT_CONTEXT + (first.encode() if isinstance(first, str) else first)
        ).digest()
        # Keyed by the stored value: a re-encrypted value is a new key, a failure is not cached.
        self._opened = lru_cache(maxsize=OPEN_CACHE_MAX)(self.open)

    @staticmethod
    def is_sealed(stored: str) -> bool:
        return stored.startswith(PREFIX)

    def seal(self, plaintext: str) -> str:
        if len(plaintext.encode()) > PLAINTEXT_MAX_BYTES:
            raise SecretBoxError(f"a sealed secret holds at most {PLAINTEXT_MAX_BYTES} bytes")
        return PREFIX + self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def open(self, stored: str) -> str:
        """The plaintext of a stored value (a legacy plaintext value is returned as it is)."""
        if not self.is_sealed(stored):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode()
        except (InvalidToken, ValueError) as exc:
            raise SecretBoxError("a stored secret cannot be opened with the configured keys") from exc

    def open_cached(self, stored: str) -> str:
        """:meth:`open`, remembered for the last :data:`OPEN_CACHE_MAX` stored values (thread-safe)."""
        return self._opened(stored)

    def fingerprint(self, plaintext: str) -> str:
        """A keyed digest of a guessable secret (a payout account number): equal plaintexts give equal
        fingerprints, so a risk rule can count the accounts sharing one, but without the key nobody can
        test guesses against it. Keyed by the first key: a rotation starts new fingerprints."""
        mac = hmac.new(self._fingerprint_key, plaintext.encode(), hashlib.sha256)
        return mac.hexdigest()[:FINGERPRINT_HEX_LEN]

    def reseal(self, stored: str) -> str:
        """The value sealed with the first key (plaintext is sealed; a sealed value is re-encrypted)."""
        if not self.is_sealed(stored):
            return self.seal(stored)
        try:
            token = self._fernet.rotate(stored[len(PREFIX) :].encode("ascii"))
        except (InvalidToken, ValueError) as exc:
            raise SecretBoxError("a stored secret cannot be opened with the configured keys") from exc
        return PREFIX + token.decode("ascii")

    def __repr__(self) -> str:  # never print a key
        return "SecretBox(<keys>)"


def box_from_settings(settings: Settings) -> SecretBox:
    """The configured box; production requires ``EARNLOOP_SECRETS_KEYS``."""
    if settings.secrets_keys is not None:
        raw = settings.secrets_keys.get_secret_value()
    elif settings.environment == "production":
        raise SecretBoxError("EARNLOOP_SECRETS_KEYS must be set when EARNLOOP_ENVIRONMENT=production")
    else:
        raw = dev_secret(settings.secrets_keys_file, Fernet.generate_key().decode("ascii"))
    return SecretBox(k.strip() for k in raw.split(","))


@lru_cache(maxsize=1)
def process_box() -> SecretBox:
    """The box of this process's settings (``get_settings()``), for callers given none explicitly."""
    return box_from_settings(get_settings())


def sealed_columns(metadata: MetaData) -> list[Column[Any]]:
    """Every column declared ``info=SEALED``, in table dependency order."""
    return [c for t in metadata.sorted_tables for c in t.columns if c.info.get("sealed")]


@dataclass
class ResealReport:
    sealed_plaintext: int = 0
    resealed: int = 0


def reseal_column(conn: Connection, box: SecretBox, column: Column[Any], report: ResealReport) -> None:
    """Re-encrypt every value of ``column`` with the first key, in batches by primary key."""
    table = column.table
    (pk,) = table.primary_key.columns
    last: Any = None
    while True:
        query = select(pk, column).order_by(pk).limit(RESEAL_BATCH)
        if last is not None:
            query = query.where(pk > last)
        rows = conn.execute(query).all()
        for row_id, stored in rows:
            if stored is None:
                continue
            if box.is_sealed(stored):
                report.resealed += 1
            else:
                report.sealed_plaintext += 1
            conn.execute(update(table).where(pk == row_id).values({column.name: box.reseal(stored)}))
        if len(rows) < RESEAL_BATCH:
            return
        last = rows[-1][0]


def reseal_columns(conn: Connection, box: SecretBox, columns: Iterable[Column[Any]]) -> ResealReport:
    """``earnloop secrets rotate``: every sealed column re-encrypted with the first key (and legacy
    plaintext encrypted), in the caller's transaction."""
    report = ResealReport()
    for column in columns:
        reseal_column(conn, box, column, report)
    return report
