"""What a reviewer's decision on a held reward does to the money (issue 15, ADR 0024): approve → the
reward (and its campaign bonuses) is released by the next ``confirm_due`` like any other; reject → every
pending part is voided (a part already paid is clawed back), with the reviewer and the note on the
review. The review itself (open → approved | rejected, once) is ``risk.reviews``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, or_, select

from earnloop.ledger.service import LedgerService
from earnloop.risk import reviews
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.cashback.models import cashback_entries as entries

# The held rewards this module decides (payments and withdrawals have their own reviews).
REWARD_SOURCES = frozenset({"game", "shopping", "einvoice"})


def decide_review(
    conn: Connection,
    ledger: LedgerService,
    review_id: int,
    *,
    approve: bool,
    reviewer: str,
    note: str,
) -> dict[str, Any]:
    """Decide an open review and apply it to the held reward; returns the review with ``voided``: the
    references reversed (none on approval). Never commits."""
    review = reviews.decide(
        conn,
        review_id,
        approve=approve,
        reviewer=reviewer,
        note=note,
        now_ns=ledger.clock.now_ns(),
        sources=REWARD_SOURCES,
    )
    voided: list[str] = []
    if not approve:
        for ref in _held_refs(conn, review["source"], review["reward_ref"]):
            cashback.reverse(conn, ledger, source=review["source"], ref=ref)
            voided.append(ref)
    return {**review, "voided": voided}


def _held_refs(conn: Connection, source: str, reward_ref: str) -> list[str]:
    """The reward's entry and its campaign bonuses' (``<ref>:bonus:<campaign id>``), in id order."""
    prefix = f"{reward_ref}{reviews.BONUS_INFIX}"
    query = (
        select(entries.c.ref)
        .where(
            entries.c.source == source,
            or_(entries.c.ref == reward_ref, func.substr(entries.c.ref, 1, len(prefix)) == prefix),
        )
        .order_by(entries.c.id)
    )
    return [str(ref) for ref in conn.execute(query).scalars()]
