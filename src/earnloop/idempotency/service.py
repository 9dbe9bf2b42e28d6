"""Claim an idempotency key inside the caller's transaction, or replay the answer stored under it.

``claim`` inserts the record first (``INSERT … ON CONFLICT DO NOTHING``): on PostgreSQL a concurrent
request with the same key blocks on that row until the first one commits, then sees its answer; on
SQLite writers are serialised already. A failed operation rolls back with its claim, so a retry runs
again (nothing was changed). The answer is stored with ``complete`` in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, select, text, update

from earnloop.db import driver
from earnloop.errors import DomainError
from earnloop.idempotency.models import idempotency_records as records

KEY_MAX_LEN = 200


class IdempotencyError(DomainError, ValueError):
    """Base class for idempotency failures."""

    status = 422
    slug = "invalid-request"
    title = "Invalid request"


class InvalidIdempotencyKeyError(IdempotencyError):
    """The key is empty, too long or not printable ASCII."""


class IdempotencyConflictError(IdempotencyError):
    """The key was used before with a different request (TigerBeetle: ``exists_with_different_fields``)."""

    status = 409
    slug = "exists-with-different-fields"
    title = "Idempotency key reused"


def fingerprint(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    if (
        not isinstance(key, str)
        or not 0 < len(key) <= KEY_MAX_LEN
        or not (key.isascii() and key.isprintable())
    ):
        raise InvalidIdempotencyKeyError(
            f"idempotency key must be 1–{KEY_MAX_LEN} printable ASCII characters"
        )
    return key


# Built once (the claim is the same SQL on SQLite and PostgreSQL) and run on the driver: every earn,
# payment and transfer request claims a key.
_CLAIM = text(
    'INSERT INTO idempotency_records (scope, "key", request_hash, created_at_ns)'
    " VALUES (:scope, :key, :request_hash, :created_at_ns)"
    ' ON CONFLICT (scope, "key") DO NOTHING RETURNING "key"'
)
_KEYED = (records.c.scope == bindparam("b_scope"), records.c.key == bindparam("b_key"))
_CLAIMED = select(records.c.request_hash, records.c.response).where(*_KEYED)
_COMPLETE = update(records).where(*_KEYED).values(response=bindparam("b_response"))


def claim(conn: Connection, scope: str, key: str, request: dict[str, Any]) -> dict[str, Any] | None:
    """``None`` when this request owns the key now; the stored answer when it was answered before."""
    check_key(key)
    request_hash = fingerprint(request)
    values = {"scope": scope, "key": key, "request_hash": request_hash, "created_at_ns": time.time_ns()}
    if driver.first(conn, _CLAIM, values) is not None:
        return None
    row = driver.first(conn, _CLAIMED, {"b_scope": scope, "b_key": key})
    if row.request_hash != request_hash:
        raise IdempotencyConflictError(f"idempotency key {key!r} was already used with a different request")
    if row.response is None:
        raise IdempotencyConflictError(f"idempotency key {key!r} is being used by a request in progress")
    stored: dict[str, Any] = json.loads(row.response)
    return stored


Answer = TypeVar("Answer", bound=Mapping[str, Any])


def complete(conn: Connection, scope: str, key: str, response: Answer) -> Answer:
    """Store the answer for the claimed key; returns it unchanged (a dict, or a ``TypedDict``)."""
    driver.execute(
        conn,
        _COMPLETE,
        {"b_scope": scope, "b_key": key, "b_response": json.dumps(response, sort_keys=True, default=str)},
    )
    return response
