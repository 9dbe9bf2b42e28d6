"""Users and partners: creation with a fresh secret (shown once), and authentication by its digest."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from earnloop.auth.models import partners, user_tokens, users
from earnloop.db import driver
from earnloop.errors import DomainError

HANDLE_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,63}$")
PARTNER_KINDS = frozenset({"merchant", "charity", "game_publisher", "affiliate_network", "payout"})


class AuthError(DomainError, ValueError):
    """Bad input to an identity operation (the message says which)."""

    status = 422
    slug = "invalid-request"
    title = "Invalid request"


class DuplicateError(AuthError):
    """The handle or name is taken."""

    status = 409
    slug = "duplicate"
    title = "Already exists"


@dataclass(frozen=True, slots=True)
class Created:
    id: int
    secret: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_user(conn: Connection, handle: str, *, now_ns: int | None = None) -> Created:
    """A new user with an API token (returned once, stored as a digest); created ``now_ns`` (default: the
    wall clock; the simulator passes its own clock, so that account ages are those of its world)."""
    if not HANDLE_RE.match(handle):
        raise AuthError("handle: 3–64 of a-z 0-9 _ . - starting with a letter or digit")
    now = time.time_ns() if now_ns is None else now_ns
    with conn.begin_nested():
        try:
            statement = insert(users).values(handle=handle, created_at_ns=now).returning(users.c.id)
            user_id = conn.execute(statement).scalar_one()
        except IntegrityError as exc:
            raise DuplicateError(f"handle {handle!r} is taken") from exc
    token = "u_" + secrets.token_urlsafe(32)
    conn.execute(insert(user_tokens).values(token_sha256=_digest(token), user_id=user_id, created_at_ns=now))
    return Created(int(user_id), token)


# Every authenticated request runs one of these: built once, run on the driver (ADR 0011).
_USER_FOR_TOKEN = select(user_tokens.c.user_id).where(user_tokens.c.token_sha256 == bindparam("digest"))
_PARTNER_FOR_KEY = select(partners).where(partners.c.api_key_sha256 == bindparam("digest"))
_PARTNER = select(partners).where(partners.c.id == bindparam("partner_id"))
_USER_CREATED = select(users.c.created_at_ns).where(users.c.id == bindparam("user_id"))


def user_for_token(conn: Connection, token: str) -> int | None:
    user_id = driver.scalar(conn, _USER_FOR_TOKEN, {"digest": _digest(token)})
    return None if user_id is None else int(user_id)


def user_created_at_ns(conn: Connection, user_id: int) -> int | None:
    """When the user's account was opened (the risk engine's account age), or ``None``."""
    created = driver.scalar(conn, _USER_CREATED, {"user_id": user_id})
    return None if created is None else int(created)


def user_exists(conn: Connection, user_id: int) -> bool:
    return conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is not None


def create_partner(conn: Connection, name: str, kind: str, settlement_currency: str) -> Created:
    """A new partner (merchant, charity, …) with an API key (returned once, stored as a digest)."""
    if kind not in PARTNER_KINDS:
        raise AuthError(f"kind must be one of {', '.join(sorted(PARTNER_KINDS))}")
    if not 0 < len(name.strip()) <= 120:
        raise AuthError("name: 1–120 characters")
    key = "pk_" + secrets.token_urlsafe(32)
    values = {
        "name": name.strip(),
        "kind": kind,
        "settlement_currency": settlement_currency,
        "api_key_sha256": _digest(key),
        "created_at_ns": time.time_ns(),
    }
    with conn.begin_nested():
        try:
            partner_id = conn.execute(insert(partners).values(**values).returning(partners.c.id)).scalar_one()
        except IntegrityError as exc:
            raise DuplicateError(f"partner {name!r} exists") from exc
    return Created(int(partner_id), key)


@dataclass(frozen=True, slots=True)
class Partner:
    id: int
    name: str
    kind: str
    settlement_currency: str


def partner_for_key(conn: Connection, key: str) -> Partner | None:
    row = driver.first(conn, _PARTNER_FOR_KEY, {"digest": _digest(key)})
    return Partner(row.id, row.name, row.kind, row.settlement_currency) if row else None


def get_partner(conn: Connection, partner_id: int) -> Partner | None:
    row = driver.first(conn, _PARTNER, {"partner_id": partner_id})
    return Partner(row.id, row.name, row.kind, row.settlement_currency) if row else None


def users_created_at_ns(conn: Connection, user_ids: Iterable[int]) -> dict[int, int]:
    """When each of the (existing) users was created, in ns since the epoch (account age for trust)."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = conn.execute(select(users.c.id, users.c.created_at_ns).where(users.c.id.in_(ids)))
    return {int(row.id): int(row.created_at_ns) for row in rows}
