"""Catalog games: upsert by external key with their milestones (upserted by key), read them back, and
the earn paths' game reads.

Every function takes the caller's connection and never commits.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, Subquery, bindparam, insert, select, update

from earnloop.auth.service import get_partner
from earnloop.catalog.errors import CatalogNotFoundError
from earnloop.catalog.models import catalog_games as games
from earnloop.catalog.models import catalog_milestones as milestones
from earnloop.catalog.validation import GameSpec, game_spec, invalid
from earnloop.db import driver


def _join(items: list[str]) -> str:
    return ",".join(items)


def _split(text: str) -> list[str]:
    return [w for w in text.split(",") if w]


def game_problems(conn: Connection, spec: GameSpec) -> list[tuple[str, str]]:
    if spec.publisher_id is None:
        return []
    partner = get_partner(conn, spec.publisher_id)
    if partner is None:
        return [("publisher_id", f"no partner {spec.publisher_id}")]
    return []


def upsert_game_spec(conn: Connection, spec: GameSpec) -> tuple[int, bool, int, int]:
    """Write a validated game and upsert its milestones by key (milestones not listed are kept).
    Returns (game id, created, milestones created, milestones updated)."""
    now = time.time_ns()
    values = {
        "title": spec.title,
        "platforms": _join(spec.platforms),
        "app_store_id": spec.app_store_id,
        "play_package": spec.play_package,
        "tracking_provider": spec.tracking_provider,
        "tags": _join(spec.tags),
        "status": spec.status,
        "currency": spec.currency,
        "publisher_id": spec.publisher_id,
        "lock_period_days": spec.lock_period_days,
        "updated_at_ns": now,
    }
    existing = conn.execute(select(games.c.id).where(games.c.key == spec.key)).first()
    if existing is None:
        game_id = int(
            conn.execute(
                insert(games).values(key=spec.key, created_at_ns=now, **values).returning(games.c.id)
            ).scalar_one()
        )
        known: dict[str, int] = {}
    else:
        game_id = int(existing.id)
        conn.execute(update(games).where(games.c.id == game_id).values(**values))
        known = {
            r.key: r.id
            for r in conn.execute(
                select(milestones.c.key, milestones.c.id).where(milestones.c.game_id == game_id)
            )
        }
    created = updated = 0
    for m in spec.milestones:
        m_values = {
            "title": m.title,
            "goal": m.goal,
            "within_days": m.within_days,
            "reward_amount": m.reward_amount,
            "per_user_limit": m.per_user_limit,
            "position": m.position,
        }
        if m.key in known:
            conn.execute(update(milestones).where(milestones.c.id == known[m.key]).values(**m_values))
            updated += 1
        else:
            conn.execute(insert(milestones).values(game_id=game_id, key=m.key, **m_values))
            created += 1
    return game_id, existing is None, created, updated


def upsert_game(conn: Connection, raw: dict[str, Any]) -> dict[str, Any]:
    spec, problems = game_spec(raw)
    if spec is None:
        raise invalid(problems)
    problems = game_problems(conn, spec)
    if problems:
        raise invalid(problems)
    game_id, *_ = upsert_game_spec(conn, spec)
    return get_game(conn, game_id)


def _milestone_dict(row: Any) -> dict[str, Any]:
    return {
        "milestone_id": row.id,
        "key": row.key,
        "title": row.title,
        "goal": row.goal,
        "within_days": row.within_days,
        "reward_amount": row.reward_amount,
        "per_user_limit": row.per_user_limit,
        "position": row.position,
    }


def _game_dict(row: Any, milestone_rows: list[Any]) -> dict[str, Any]:
    return {
        "game_id": row.id,
        "key": row.key,
        "title": row.title,
        "platforms": _split(row.platforms),
        "app_store_id": row.app_store_id,
        "play_package": row.play_package,
        "tracking_provider": row.tracking_provider,
        "tags": _split(row.tags),
        "status": row.status,
        "currency": row.currency,
        "publisher_id": row.publisher_id,
        "lock_period_days": row.lock_period_days,
        "milestones": [_milestone_dict(m) for m in milestone_rows],
    }


def list_games(
    conn: Connection, *, status: str | None = None, tag: str | None = None, platform: str | None = None
) -> list[dict[str, Any]]:
    """Games (ordered by key) with their milestones (ordered by position)."""
    query = select(games).order_by(games.c.key)
    if status:
        query = query.where(games.c.status == status)
    rows = conn.execute(query).all()
    if tag:
        rows = [r for r in rows if tag in _split(r.tags)]
    if platform:
        rows = [r for r in rows if platform in _split(r.platforms)]
    by_game: dict[int, list[Any]] = {r.id: [] for r in rows}
    if by_game:
        for m in conn.execute(
            select(milestones)
            .where(milestones.c.game_id.in_(list(by_game)))
            .order_by(milestones.c.position, milestones.c.key)
        ):
            by_game[m.game_id].append(m)
    return [_game_dict(r, by_game[r.id]) for r in rows]


def get_game(conn: Connection, game_id: int) -> dict[str, Any]:
    row = conn.execute(select(games).where(games.c.id == game_id)).first()
    if row is None:
        raise CatalogNotFoundError(f"no game {game_id}")
    ms = conn.execute(
        select(milestones)
        .where(milestones.c.game_id == game_id)
        .order_by(milestones.c.position, milestones.c.key)
    ).all()
    return _game_dict(row, list(ms))


def get_milestone(conn: Connection, milestone_id: int) -> Any:
    row = conn.execute(select(milestones).where(milestones.c.id == milestone_id)).first()
    if row is None:
        raise CatalogNotFoundError(f"no milestone {milestone_id}")
    return row


# -- reads of the earn paths (tracking) ---------------------------------------------------------------
_GAME = select(games).where(games.c.id == bindparam("game_id"))  # run on the driver (every postback)
# What another domain may join to its own rows in one statement (the postback path cannot afford a
# statement per domain): a game's id, key and publisher.
_GAME_PUBLISHERS = select(games.c.id, games.c.key, games.c.publisher_id).subquery("catalog_game_publishers")


def game_row(conn: Connection, game_id: int) -> Any:
    """The game's row (every column), or ``None``: the earn paths' lookup, one statement on the driver."""
    return driver.first(conn, _GAME, {"game_id": game_id})


def game_publishers() -> Subquery:
    """Games as a selectable of (``id``, ``key``, ``publisher_id``) that another domain joins to its own
    rows in one statement (tracking: a click's game and its publisher's postback secrets)."""
    return _GAME_PUBLISHERS
