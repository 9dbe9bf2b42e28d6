"""Sign-in sessions of the consumer app: started after a successful sign-in, found by the cookie's
token, ended by sign-out, by expiry or by "sign out everywhere" (ADR 0030).

The token is 256 random bits, given to the browser once and stored as its SHA-256 digest, so a copy of
the database signs nobody in. A new token is issued at every sign-in, never reused from before it: a
token planted in a browser before sign-in (session fixation) is never the one that becomes signed in.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, insert, select, update

from earnloop.auth.models import user_sessions, users
from earnloop.db import driver
from earnloop.secretbox import digest

DEFAULT_MAX_AGE_S = 14 * 24 * 3600
TOKEN_PREFIX = "s_"  # noqa: S105 - a prefix, not a secret


@dataclass(frozen=True, slots=True)
class SessionUser:
    """Who a live session belongs to."""

    user_id: int
    handle: str
    expires_at_ns: int


def start_session(
    conn: Connection, user_id: int, *, max_age_s: int = DEFAULT_MAX_AGE_S, now_ns: int | None = None
) -> str:
    """A new session for ``user_id``; returns its token (to set in the cookie; not stored in clear)."""
    if max_age_s <= 0:
        raise ValueError("max_age_s must be positive")
    now = time.time_ns() if now_ns is None else now_ns
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    values = {
        "token_sha256": digest(token),
        "user_id": user_id,
        "created_at_ns": now,
        "expires_at_ns": now + max_age_s * 1_000_000_000,
    }
    conn.execute(insert(user_sessions).values(**values))
    return token


_LIVE_SESSION = (
    select(user_sessions.c.user_id, users.c.handle, user_sessions.c.expires_at_ns)
    .join(users, users.c.id == user_sessions.c.user_id)
    .where(
        user_sessions.c.token_sha256 == bindparam("digest"),
        user_sessions.c.revoked_at_ns.is_(None),
        user_sessions.c.expires_at_ns > bindparam("now"),
    )
)


def session_user(conn: Connection, token: str, *, now_ns: int | None = None) -> SessionUser | None:
    """The user of a live (not revoked, not expired) session, or ``None``."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    now = time.time_ns() if now_ns is None else now_ns
    row = driver.first(conn, _LIVE_SESSION, {"digest": digest(token), "now": now})
    return None if row is None else SessionUser(int(row.user_id), str(row.handle), int(row.expires_at_ns))


def end_session(conn: Connection, token: str, *, now_ns: int | None = None) -> bool:
    """Revoke one session (sign-out). True when a live session was revoked."""
    now = time.time_ns() if now_ns is None else now_ns
    statement = (
        update(user_sessions)
        .where(user_sessions.c.token_sha256 == digest(token), user_sessions.c.revoked_at_ns.is_(None))
        .values(revoked_at_ns=now)
    )
    return conn.execute(statement).rowcount > 0


def end_all_sessions(conn: Connection, user_id: int, *, now_ns: int | None = None) -> int:
    """Revoke every live session of ``user_id`` (sign out everywhere); returns how many were live."""
    now = time.time_ns() if now_ns is None else now_ns
    statement = (
        update(user_sessions)
        .where(
            user_sessions.c.user_id == user_id,
            user_sessions.c.revoked_at_ns.is_(None),
            user_sessions.c.expires_at_ns > now,
        )
        .values(revoked_at_ns=now)
    )
    return int(conn.execute(statement).rowcount)
