"""Passwords of the consumer app's users (ADR 0030): the policy, argon2id hashes (``argon2-cffi``,
RFC 9106's low-memory profile), sign-up with a password and checking one at sign-in.

Checking costs the same hash work whether the handle exists or not (an unknown handle is checked against
a dummy hash), and a hash made with other parameters than today's is replaced at the next successful
check. Hashing is slow on purpose (~0.1 s of CPU): async callers run :func:`hash_password` and
:func:`check` on a worker thread and keep their transactions to the SQL (:func:`stored_hash`,
:func:`store_hash`, :func:`create_with_hash`); :func:`verify`, :func:`set_password` and :func:`sign_up`
do it all in one call for the CLI and tests. Passwords are never logged nor kept in clear.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, bindparam, select

from earnloop.auth.models import user_passwords, users
from earnloop.auth.service import HANDLE_RE, AuthError, create_user
from earnloop.db import driver
from earnloop.db.upsert import dialect_insert

PASSWORD_MIN = 10
PASSWORD_MAX = 128
HASHER = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)


class PasswordPolicyError(AuthError):
    """The new password does not meet the policy (the message says why)."""

    slug = "weak-password"
    title = "Password refused"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # "length" or "repeated": what a page tells the user


class HandleError(AuthError):
    """The handle cannot be a user's handle."""


def check_policy(password: str) -> None:
    """Raise :class:`PasswordPolicyError` unless ``password`` has 10–128 characters, not all the same."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise PasswordPolicyError(f"password: {PASSWORD_MIN}–{PASSWORD_MAX} characters", reason="length")
    if len(set(password)) == 1:
        raise PasswordPolicyError("password: not the same character repeated", reason="repeated")


def check_handle(handle: str) -> None:
    if not HANDLE_RE.match(handle):
        raise HandleError("handle: 3–64 of a-z 0-9 _ . - starting with a letter or digit")


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string) of a password that meets the policy (CPU: run it off the loop)."""
    check_policy(password)
    return HASHER.hash(password)


def store_hash(conn: Connection, user_id: int, hashed: str, *, now_ns: int | None = None) -> None:
    """Set (or replace) the user's password hash."""
    now = time.time_ns() if now_ns is None else now_ns
    statement = dialect_insert(conn, user_passwords).values(user_id=user_id, hash=hashed, updated_at_ns=now)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[user_passwords.c.user_id], set_={"hash": hashed, "updated_at_ns": now}
        )
    )


def set_password(conn: Connection, user_id: int, password: str) -> None:
    """Give the user a new password (policy checked first: a refused password changes nothing)."""
    store_hash(conn, user_id, hash_password(password))


def create_with_hash(conn: Connection, handle: str, hashed: str) -> int:
    """A new user (:func:`earnloop.auth.service.create_user`) whose password hash is ``hashed``."""
    user_id = create_user(conn, handle).id
    store_hash(conn, user_id, hashed)
    return user_id


def sign_up(conn: Connection, handle: str, password: str) -> int:
    """A new user with a password; returns the user id. Bad handle or password: nothing is created."""
    check_handle(handle)
    return create_with_hash(conn, handle, hash_password(password))


_HASH_OF_HANDLE = (
    select(user_passwords.c.user_id, user_passwords.c.hash)
    .join(users, users.c.id == user_passwords.c.user_id)
    .where(users.c.handle == bindparam("handle"))
)


@dataclass(frozen=True, slots=True)
class Stored:
    user_id: int
    hash: str


@dataclass(frozen=True, slots=True)
class Checked:
    """The outcome of :func:`check`: whose password it was (``None``: nobody's) and, when the stored hash
    used other parameters than today's, the new hash to store."""

    user_id: int | None
    new_hash: str | None = None


def stored_hash(conn: Connection, handle: str) -> Stored | None:
    """The password hash of the user ``handle``, or ``None`` (no such user, or no password)."""
    row = driver.first(conn, _HASH_OF_HANDLE, {"handle": handle})
    return None if row is None else Stored(int(row.user_id), str(row.hash))


@cache
def _dummy_hash() -> str:
    return HASHER.hash("earnloop: the hash an unknown handle is checked against")


def check(stored: Stored | None, password: str) -> Checked:
    """Whether ``password`` matches ``stored`` (CPU only; as much work when ``stored`` is ``None``)."""
    candidate = password[:PASSWORD_MAX]
    target = _dummy_hash() if stored is None else stored.hash
    try:
        HASHER.verify(target, candidate)
    except (VerificationError, InvalidHashError):
        return Checked(None)
    if stored is None or len(password) > PASSWORD_MAX:
        return Checked(None)
    rehashed = HASHER.hash(password) if HASHER.check_needs_rehash(stored.hash) else None
    return Checked(stored.user_id, rehashed)


def verify(conn: Connection, handle: str, password: str) -> int | None:
    """The user id when ``password`` is ``handle``'s password, else ``None`` (re-hashes when due)."""
    stored = stored_hash(conn, handle)
    checked = check(stored, password)
    if checked.user_id is not None and checked.new_hash is not None:
        store_hash(conn, checked.user_id, checked.new_hash)
    return checked.user_id
