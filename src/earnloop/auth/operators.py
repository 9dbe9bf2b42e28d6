"""Operators: named people with roles (``risk``, ``admin``, …) who act on the platform under their own
API token, so that what they do is recorded by name (a risk strategy's author and approver, ADR 0025).

Owns creating an operator (the token is returned once and stored as its SHA-256 digest) and finding the
operator a token belongs to. The shared admin token stays the super-user for the admin endpoints; it
names nobody, so it cannot stand in for an operator where a person must be named.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from earnloop.auth.models import operators
from earnloop.auth.service import HANDLE_RE, AuthError, Created, DuplicateError
from earnloop.db import driver

# The console's roles (DESIGN.md §9); ``risk`` authors and approves risk strategies.
ROLES = frozenset({"viewer", "analyst", "risk", "finance", "admin"})
ROLE_RISK = "risk"
TOKEN_PREFIX = "op_"  # noqa: S105 - a prefix, not a secret


@dataclass(frozen=True, slots=True)
class Operator:
    id: int
    name: str
    roles: frozenset[str]

    def has_role(self, role: str) -> bool:
        return role in self.roles


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _checked_roles(roles: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(role.strip() for role in roles)
    unknown = sorted(chosen - ROLES)
    if not chosen or unknown:
        raise AuthError(f"roles: one or more of {', '.join(sorted(ROLES))} (unknown: {', '.join(unknown)})")
    return chosen


def create_operator(conn: Connection, name: str, roles: Iterable[str]) -> Created:
    """A new operator with an API token (returned once, stored as a digest)."""
    if not HANDLE_RE.match(name):
        raise AuthError("name: 3–64 of a-z 0-9 _ . - starting with a letter or digit")
    chosen = _checked_roles(roles)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    values = {
        "name": name,
        "roles": " ".join(sorted(chosen)),
        "token_sha256": _digest(token),
        "created_at_ns": time.time_ns(),
    }
    with conn.begin_nested():
        try:
            operator_id = conn.execute(
                insert(operators).values(**values).returning(operators.c.id)
            ).scalar_one()
        except IntegrityError as exc:
            raise DuplicateError(f"operator {name!r} exists") from exc
    return Created(int(operator_id), token)


# Every operator request runs it: built once, run on the driver (ADR 0011).
_OPERATOR_FOR_TOKEN = select(operators.c.id, operators.c.name, operators.c.roles).where(
    operators.c.token_sha256 == bindparam("digest")
)


def operator_for_token(conn: Connection, token: str) -> Operator | None:
    """The operator holding ``token``, or ``None``."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = driver.first(conn, _OPERATOR_FOR_TOKEN, {"digest": _digest(token)})
    if row is None:
        return None
    return Operator(int(row.id), str(row.name), frozenset(str(row.roles).split()))
