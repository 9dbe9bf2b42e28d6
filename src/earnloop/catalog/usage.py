"""Per-user uses of campaign bonuses and milestones, counted under their caps and idempotent on the
earn engine's reward reference.

The earn engine's statements are built once (the claims are the same SQL on SQLite and PostgreSQL) and
run on the driver (``earnloop.db.driver``). Every function takes the caller's connection and never
commits.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, select, text

from earnloop.auth.service import user_exists
from earnloop.catalog.errors import CapReachedError, CatalogConflictError, CatalogError, CatalogNotFoundError
from earnloop.catalog.games import get_milestone
from earnloop.catalog.models import catalog_campaigns as campaigns
from earnloop.catalog.models import catalog_milestones as milestones
from earnloop.catalog.models import catalog_usage as usage
from earnloop.catalog.models import catalog_usage_refs as usage_refs
from earnloop.db import driver

SUBJECTS = frozenset({"campaign", "milestone"})
_USED = select(usage.c.used).where(
    usage.c.subject == bindparam("subject"),
    usage.c.subject_id == bindparam("subject_id"),
    usage.c.user_id == bindparam("user_id"),
)
_MILESTONES_WITH_USES = (
    select(milestones, func.coalesce(usage.c.used, 0).label("used"))
    .outerjoin(
        usage,
        and_(
            usage.c.subject == "milestone",
            usage.c.subject_id == milestones.c.id,
            usage.c.user_id == bindparam("user_id"),
        ),
    )
    .where(milestones.c.game_id == bindparam("game_id"))
    .order_by(milestones.c.position, milestones.c.key)
)
_CLAIM_REF = text(
    "INSERT INTO catalog_usage_refs (subject, subject_id, ref, user_id, amount, created_at_ns)"
    " VALUES (:subject, :subject_id, :ref, :user_id, :amount, :created_at_ns)"
    " ON CONFLICT DO NOTHING RETURNING ref"
)
_SEEN_REF = select(usage_refs.c.user_id, usage_refs.c.amount).where(
    usage_refs.c.subject == bindparam("subject"),
    usage_refs.c.subject_id == bindparam("subject_id"),
    usage_refs.c.ref == bindparam("ref"),
)
_COUNT_USE = (
    "INSERT INTO catalog_usage (subject, subject_id, user_id, used)"
    " VALUES (:subject, :subject_id, :user_id, 1)"
    " ON CONFLICT (subject, subject_id, user_id) DO UPDATE SET used = catalog_usage.used + 1"
)
_COUNT_USE_UNCAPPED = text(f"{_COUNT_USE} RETURNING used")
_COUNT_USE_CAPPED = text(f"{_COUNT_USE} WHERE catalog_usage.used < :cap RETURNING used")


def used(conn: Connection, subject: str, subject_id: int, user_id: int) -> int:
    params = {"subject": subject, "subject_id": subject_id, "user_id": user_id}
    return int(driver.scalar(conn, _USED, params) or 0)


def uses_of_user(conn: Connection, user_id: int, subject: str) -> dict[int, int]:
    """How many times the user used each campaign bonus or earned each milestone (``subject``), by
    subject id; subjects never used are absent (the app's game zone: what is left of each limit)."""
    rows = conn.execute(
        select(usage.c.subject_id, usage.c.used).where(usage.c.subject == subject, usage.c.user_id == user_id)
    )
    return {int(r.subject_id): int(r.used) for r in rows}


def milestones_with_uses(conn: Connection, game_id: int, user_id: int) -> list[Any]:
    """The game's milestone rows in order (position, key), each with ``used``: how many times the
    user earned it."""
    return driver.rows(conn, _MILESTONES_WITH_USES, {"game_id": game_id, "user_id": user_id})


def uses_with_ref_prefix(conn: Connection, subject: str, prefix: str) -> list[dict[str, Any]]:
    """Recorded uses whose reference starts with ``prefix`` (e.g. every campaign bonus of one reward),
    by subject id."""
    rows = conn.execute(
        select(usage_refs)
        .where(usage_refs.c.subject == subject, usage_refs.c.ref.startswith(prefix, autoescape=True))
        .order_by(usage_refs.c.subject_id, usage_refs.c.ref)
    )
    return [
        {"subject_id": r.subject_id, "ref": r.ref, "user_id": r.user_id, "amount": r.amount} for r in rows
    ]


def _cap_of(conn: Connection, subject: str, subject_id: int) -> int | None:
    if subject == "campaign":
        row = conn.execute(select(campaigns.c.per_user_cap).where(campaigns.c.id == subject_id)).first()
        if row is None:
            raise CatalogNotFoundError(f"no campaign {subject_id}")
        return None if row.per_user_cap is None else int(row.per_user_cap)
    return int(get_milestone(conn, subject_id).per_user_limit)


def _check_use(subject: str, ref: str, amount: int) -> None:
    if subject not in SUBJECTS:
        raise CatalogError(f"subject must be one of {', '.join(sorted(SUBJECTS))}")
    if not 0 < len(ref) <= 200:
        raise CatalogError("ref: 1–200 characters")
    if not isinstance(amount, int) or amount < 0:
        raise CatalogError("amount must be ≥ 0 minor units")


def record_use(
    conn: Connection, *, subject: str, subject_id: int, user_id: int, ref: str, amount: int = 0
) -> dict[str, Any]:
    """Count one use of a campaign bonus or milestone by a user, idempotent on ``ref`` (the earn
    engine's reward reference). The increment is one guarded upsert (``used < cap``), so concurrent
    uses can never exceed the cap: the loser gets :class:`CapReachedError` (409)."""
    _check_use(subject, ref, amount)
    cap = _cap_of(conn, subject, subject_id)
    if not user_exists(conn, user_id):
        raise CatalogNotFoundError(f"no user {user_id}")
    return count_use(
        conn, subject=subject, subject_id=subject_id, user_id=user_id, ref=ref, amount=amount, cap=cap
    )


def count_use(
    conn: Connection, *, subject: str, subject_id: int, user_id: int, ref: str, amount: int, cap: int | None
) -> dict[str, Any]:
    """:func:`record_use` for a caller that has just read the subject's ``cap`` in this transaction and
    knows the user exists (the earn engine, after pricing): the same idempotent, guarded count."""
    _check_use(subject, ref, amount)
    key = {"subject": subject, "subject_id": subject_id}
    # Claim the reference first: on PostgreSQL a concurrent duplicate waits here for the first one.
    claimed = driver.first(
        conn,
        _CLAIM_REF,
        {**key, "ref": ref, "user_id": user_id, "amount": amount, "created_at_ns": time.time_ns()},
    )
    if claimed is None:
        seen = driver.first(conn, _SEEN_REF, {**key, "ref": ref})
        if (seen.user_id, seen.amount) != (user_id, amount):
            raise CatalogConflictError(f"use {ref!r} was recorded with different fields")
        count = used(conn, subject, subject_id, user_id)
    else:
        statement, params = _COUNT_USE_UNCAPPED, {**key, "user_id": user_id}
        if cap is not None:
            statement, params = _COUNT_USE_CAPPED, {**params, "cap": cap}
        counted = driver.first(conn, statement, params)
        if counted is None:
            raise CapReachedError(f"user {user_id} reached the limit of {cap} for {subject} {subject_id}")
        count = int(counted.used)
    return {**key, "user_id": user_id, "ref": ref, "used": count, "cap": cap}
