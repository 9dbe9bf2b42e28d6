"""Identity tables: users of the consumer app and their API tokens, partners with their API keys, and
operators (named people with roles) with their API tokens, sign-in sessions, and passkeys with their
ceremonies' challenges.

Secrets are stored as SHA-256 digests of high-entropy random tokens, never in clear.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, LargeBinary, String, Table, Text

from earnloop.db.metadata import metadata
from earnloop.db.types import SERIAL_ID

users = Table(
    "users",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("handle", String(64), nullable=False, unique=True),
    Column("created_at_ns", BigInteger, nullable=False),
)

user_tokens = Table(
    "user_tokens",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Index("ix_user_tokens_user", "user_id"),
)

partners = Table(
    "partners",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("name", String(120), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("settlement_currency", String(3), nullable=False),
    Column("api_key_sha256", String(64), nullable=False, unique=True),
    Column("created_at_ns", BigInteger, nullable=False),
)

# Named operators (risk analysts, finance, admins): the people whose actions are recorded by name, e.g.
# a strategy's author and its approver. ``roles`` is a space-separated set of role names.
operators = Table(
    "operators",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("roles", String(200), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at_ns", BigInteger, nullable=False),
)

# Sign-in sessions of the consumer app (ADR 0030): the cookie carries a random token, stored here as its
# digest. A session ends when it expires or is revoked (sign-out; "sign out everywhere" revokes them all).
user_sessions = Table(
    "user_sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("expires_at_ns", BigInteger, nullable=False),
    Column("revoked_at_ns", BigInteger, nullable=True),
    Index("ix_user_sessions_user", "user_id"),
)

# Passkeys (WebAuthn credentials, ADR 0031): the public key and the last sign count the authenticator
# reported; ``credential_id`` is base64url, unique across users.
user_passkeys = Table(
    "user_passkeys",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("credential_id", String(1400), nullable=False, unique=True),
    Column("public_key", LargeBinary, nullable=False),
    Column("sign_count", BigInteger, nullable=False),
    Column("transports", String(200), nullable=False),
    Column("name", String(64), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("last_used_at_ns", BigInteger, nullable=True),
    Index("ix_user_passkeys_user", "user_id"),
)

# A ceremony's challenge: random, five minutes, used once. ``purpose`` is ``register`` or ``confirm``;
# a confirmation carries the action it confirms (JSON), which runs only after the assertion checks out.
passkey_challenges = Table(
    "passkey_challenges",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("challenge", LargeBinary, nullable=False),
    Column("action_json", Text, nullable=True),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("expires_at_ns", BigInteger, nullable=False),
    Column("used_at_ns", BigInteger, nullable=True),
    Index("ix_passkey_challenges_user", "user_id"),
)

# Passwords of the consumer app's users (ADR 0030): an argon2id hash (PHC string, its parameters inside),
# re-hashed at sign-in when the parameters change.
user_passwords = Table(
    "user_passwords",
    metadata,
    Column("user_id", BigInteger, ForeignKey("users.id"), primary_key=True, autoincrement=False),
    Column("hash", String(255), nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
)

# Sign-in attempts not (yet) known to have succeeded, per typed handle and client IP: the rate limit
# counts them over a sliding window in every server process (``auth/sign_in_limits.py``). A successful
# attempt removes its own row only; rows older than the window are pruned.
sign_in_attempts = Table(
    "sign_in_attempts",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("handle", String(64), nullable=False),
    Column("client_ip", String(64), nullable=False),
    Column("attempted_at_ns", BigInteger, nullable=False),
    Index("ix_sign_in_attempts_handle", "handle", "attempted_at_ns"),
    Index("ix_sign_in_attempts_ip", "client_ip", "attempted_at_ns"),
)
