"""The admin bearer token guarding admin-only endpoints.

Taken from ``EARNLOOP_ADMIN_TOKEN`` or, when unset, from the token file (``var/admin_token``), which
``earnloop demo seed`` creates with mode 0600. The token itself is never logged.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from earnloop.config import Settings

MIN_TOKEN_LEN = 16


def resolve_admin_token(settings: Settings) -> str | None:
    """The configured token, or the one in the token file, or ``None`` (admin endpoints then say 401)."""
    if settings.admin_token is not None:
        return settings.admin_token.get_secret_value()
    path = Path(settings.admin_token_file)
    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        return token if len(token) >= MIN_TOKEN_LEN else None
    return None


def ensure_admin_token_file(settings: Settings) -> Path:
    """Create the token file with a fresh random token if it does not exist yet; return its path."""
    path = Path(settings.admin_token_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    return path


def token_matches(expected: str | None, presented: str | None) -> bool:
    """Constant-time comparison; ``False`` when either side is missing."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())
