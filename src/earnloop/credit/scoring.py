"""Scoring users with the approved champion: on demand for one user (:func:`score_user`) or for
everyone (:func:`rescore_all`, in batches); every score is stored (``credit_scores``, append-only) with
the features and reasons it came from, and the latest one is the user's current score
(:func:`latest_score`)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, insert, select

from earnloop.auth.models import users
from earnloop.credit.errors import UserNotFoundError
from earnloop.credit.features_db import feature_frame
from earnloop.credit.models import credit_scores
from earnloop.credit.registry import approved_champion
from earnloop.credit.types import Reason, Scored

RESCORE_BATCH = 500
TOP_REASONS = 4


@dataclass(frozen=True, slots=True)
class StoredScore:
    user_id: int
    model_version: int
    score: int
    subscores: dict[str, int]
    reasons: tuple[Reason, ...]
    features: dict[str, float]
    computed_at_ns: int

    def top_reasons(self, count: int = TOP_REASONS) -> tuple[Reason, ...]:
        """The reasons that moved the score most: those that lowered it (most first), then those that
        raised it (most first)."""
        lowering = sorted((r for r in self.reasons if r.points < 0), key=lambda r: r.points)
        raising = sorted((r for r in self.reasons if r.points >= 0), key=lambda r: -r.points)
        return tuple([*lowering, *raising][:count])


def _row_values(
    user_id: int, version: int, scored: Scored, features: pd.Series, now_ns: int
) -> dict[str, Any]:
    reasons = [
        {"feature": r.feature, "dimension": r.dimension, "points": round(float(r.points), 2), "text": r.text}
        for r in scored.reasons
    ]
    finite = {k: float(v) if math.isfinite(float(v)) else None for k, v in features.items()}
    return {
        "user_id": user_id,
        "model_version": version,
        "score": int(scored.score),
        "subscores_json": json.dumps({k: int(v) for k, v in scored.subscores.items()}),
        "reasons_json": json.dumps(reasons),
        "features_json": json.dumps(finite),
        "computed_at_ns": now_ns,
    }


def _stored(row: Any) -> StoredScore:
    reasons = tuple(
        Reason(r["feature"], r["dimension"], float(r["points"]), r["text"])
        for r in json.loads(row.reasons_json)
    )
    return StoredScore(
        user_id=int(row.user_id),
        model_version=int(row.model_version),
        score=int(row.score),
        subscores=dict(json.loads(row.subscores_json)),
        reasons=reasons,
        features=dict(json.loads(row.features_json)),
        computed_at_ns=int(row.computed_at_ns),
    )


def _score_batch(conn: Connection, user_ids: Sequence[int], now_ns: int) -> list[dict[str, Any]]:
    version, model = approved_champion(conn)
    frame = feature_frame(conn, user_ids, now_ns)
    scored = model.score(frame[list(model.feature_names)])
    values = [
        _row_values(int(uid), version, s, frame.loc[uid], now_ns)
        for uid, s in zip(frame.index, scored, strict=True)
    ]
    if values:
        conn.execute(insert(credit_scores), values)
    return values


def score_user(conn: Connection, user_id: int, *, now_ns: int) -> StoredScore:
    """Score one user now with the approved champion and store it (409 without an approved model)."""
    if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
        raise UserNotFoundError(f"no user {user_id}")
    _score_batch(conn, [user_id], now_ns)
    found = latest_score(conn, user_id)
    assert found is not None
    return found


def rescore_all(conn: Connection, *, now_ns: int, batch: int = RESCORE_BATCH) -> int:
    """Score every user that existed at ``now_ns``; returns how many were scored."""
    ids = [
        int(r[0])
        for r in conn.execute(select(users.c.id).where(users.c.created_at_ns < now_ns).order_by(users.c.id))
    ]
    for start in range(0, len(ids), batch):
        _score_batch(conn, ids[start : start + batch], now_ns)
    return len(ids)


def latest_score(conn: Connection, user_id: int) -> StoredScore | None:
    s = credit_scores.c
    row = conn.execute(
        select(credit_scores)
        .where(s.user_id == user_id)
        .order_by(s.computed_at_ns.desc(), s.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _stored(row)


def latest_scores(conn: Connection, *, limit: int = 100_000) -> list[StoredScore]:
    """Every user's latest score (monitoring's current population)."""
    s = credit_scores.c
    newest = select(s.user_id, s.id).order_by(s.user_id, s.computed_at_ns.desc(), s.id.desc())
    seen: set[int] = set()
    ids = []
    for user_id, score_id in conn.execute(newest):
        if user_id not in seen:
            seen.add(user_id)
            ids.append(score_id)
    rows: list[Any] = []
    for start in range(0, min(len(ids), limit), 500):
        chunk = ids[start : start + 500]
        rows.extend(conn.execute(select(credit_scores).where(s.id.in_(chunk))))
    return [_stored(r) for r in rows]
