"""The review queue: an event decided ``review`` holds its reward until a reviewer approves or rejects
it (issue 15, ADR 0024).

Owns :func:`hold` (the earn path opens a review for a reward it credited pending), :func:`held` (the
condition the cashback release adds, so that a held reward and its campaign bonuses stay pending past
their release date), :func:`list_reviews`, :func:`review_of` and :func:`decide` (open → approved |
rejected, once, with the reviewer and a note). What a decision does to the money belongs to the wallet:
approve lets the release job pay it, reject voids the pending cashback (``wallet/cashback/reviews.py``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, func, literal, or_, select, update

from earnloop.db.upsert import dialect_insert
from earnloop.errors import DomainError
from earnloop.risk.models import risk_decisions
from earnloop.risk.models import risk_reviews as reviews
from earnloop.risk.outcomes import record_outcome

STATUSES = frozenset({"open", "approved", "rejected"})
NOTE_CHARS_MAX = 2_000
REVIEWER_CHARS_MAX = 120
LIST_MAX = 500
BONUS_INFIX = ":bonus:"  # a campaign bonus's ref is ``<reward ref>:bonus:<campaign id>`` (earn/bonuses.py)


class ReviewError(DomainError):
    status = 422
    slug = "review-invalid"
    title = "Invalid review request"


class ReviewNotFoundError(ReviewError):
    status = 404
    slug = "review-not-found"
    title = "No such review"


class ReviewDecidedError(ReviewError):
    status = 409
    slug = "review-decided"
    title = "The review was decided already"


def hold(
    conn: Connection,
    *,
    event_ref: str,
    source: str,
    reward_ref: str,
    user_id: int | None,
    reasons: tuple[str, ...],
    now_ns: int,
) -> None:
    """Open a review holding the reward ``(source, reward_ref)`` and its bonuses (once per event)."""
    conn.execute(
        dialect_insert(conn, reviews)
        .values(
            event_ref=event_ref,
            source=source,
            reward_ref=reward_ref,
            user_id=user_id,
            status="open",
            reasons=" ".join(reasons)[:2_000],
            created_at_ns=now_ns,
        )
        .on_conflict_do_nothing()
    )


def held(source: ColumnElement[str], ref: ColumnElement[str]) -> ColumnElement[bool]:
    """True for a cashback entry ``(source, ref)`` held by an open review: the reward itself or one of
    its campaign bonuses."""
    prefix_len = func.length(reviews.c.reward_ref) + len(BONUS_INFIX)
    return exists(
        select(literal(1)).where(
            reviews.c.status == "open",
            reviews.c.source == source,
            or_(
                reviews.c.reward_ref == ref,
                and_(
                    func.length(ref) > prefix_len,
                    func.substr(ref, 1, prefix_len) == reviews.c.reward_ref + BONUS_INFIX,
                ),
            ),
        )
    )


def _view(row: Any) -> dict[str, Any]:
    return {
        "review_id": int(row.id),
        "event_ref": row.event_ref,
        "source": row.source,
        "reward_ref": row.reward_ref,
        "user_id": row.user_id,
        "status": row.status,
        "reasons": row.reasons.split(),
        "note": row.note,
        "reviewer": row.reviewer,
        "created_at_ns": int(row.created_at_ns),
        "decided_at_ns": row.decided_at_ns,
    }


def list_reviews(conn: Connection, *, status: str = "open", limit: int = 100) -> list[dict[str, Any]]:
    """Reviews in a status, oldest first (the queue a reviewer works through)."""
    if status not in STATUSES:
        raise ReviewError(f"status: one of {', '.join(sorted(STATUSES))}")
    if not 1 <= limit <= LIST_MAX:
        raise ReviewError(f"limit: 1 to {LIST_MAX}")
    query = select(reviews).where(reviews.c.status == status).order_by(reviews.c.id).limit(limit)
    return [_view(row) for row in conn.execute(query)]


def review_of(conn: Connection, *, source: str, reward_ref: str) -> dict[str, Any] | None:
    """The latest review of ``(source, reward_ref)`` (a held withdrawal's, say), or ``None``."""
    query = (
        select(reviews)
        .where(reviews.c.source == source, reviews.c.reward_ref == reward_ref)
        .order_by(reviews.c.id.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return None if row is None else _view(row)


def decide(
    conn: Connection,
    review_id: int,
    *,
    approve: bool,
    reviewer: str,
    note: str,
    now_ns: int,
    sources: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Approve or reject an open review, once (a concurrent second decision gets
    :class:`ReviewDecidedError`); returns the decided review. ``sources``: the kinds of review the
    caller knows how to act on (a withdrawal's review is decided where withdrawals are). A rejection
    labels the event ``confirmed_fraud`` for backtests."""
    if not reviewer.strip() or len(reviewer) > REVIEWER_CHARS_MAX:
        raise ReviewError(f"reviewer: 1 to {REVIEWER_CHARS_MAX} characters")
    if len(note) > NOTE_CHARS_MAX:
        raise ReviewError(f"note: at most {NOTE_CHARS_MAX} characters")
    row = conn.execute(select(reviews).where(reviews.c.id == review_id)).first()
    if row is None:
        raise ReviewNotFoundError(f"no review {review_id}")
    if sources is not None and row.source not in sources:
        raise ReviewError(
            f"review {review_id} holds a {row.source}: decide it where {row.source}s are decided"
        )
    done = conn.execute(
        update(reviews)
        .where(reviews.c.id == review_id, reviews.c.status == "open")
        .values(
            status="approved" if approve else "rejected", reviewer=reviewer, note=note, decided_at_ns=now_ns
        )
    )
    if done.rowcount != 1:
        decided = conn.execute(select(reviews.c.status).where(reviews.c.id == review_id)).scalar_one()
        raise ReviewDecidedError(f"review {review_id} is {decided} already")
    if not approve:
        _label_fraud(conn, str(row.event_ref), now_ns)
    return _view(conn.execute(select(reviews).where(reviews.c.id == review_id)).one())


def _label_fraud(conn: Connection, event_ref: str, now_ns: int) -> None:
    amount = conn.execute(
        select(risk_decisions.c.amount).where(risk_decisions.c.event_ref == event_ref)
    ).scalar_one_or_none()
    record_outcome(conn, event_ref=event_ref, kind="confirmed_fraud", amount=int(amount or 0), at_ns=now_ns)
