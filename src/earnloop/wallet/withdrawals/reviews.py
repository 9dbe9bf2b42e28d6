"""Reviewers' decisions on withdrawals risk screening held (issue 15, ADR 0028). A held withdrawal waits
in ``in_review`` with its money reserved and is never submitted to the provider until a reviewer
decides, once (the review row in ``risk_reviews`` is the lock: a concurrent second decision gets 409
``review-decided``), with the reviewer's name and a note:

- approve → ``requested``, then submitted as any withdrawal (:func:`review_withdrawal`; a process that
  dies in between leaves it ``requested``, which the resolve sweep asks the provider about);
- reject → ``rejected``, the hold voided in the same transaction: the money is back in the wallet.

Owns :func:`list_in_review`, :func:`decide` (one transaction) and :func:`review_withdrawal` (decide,
then submit an approved one).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import Transfer, TransferFlags, dec128
from earnloop.outbox import service as outbox
from earnloop.risk import reviews
from earnloop.secretbox import SecretBox
from earnloop.wallet.chart import transfer_id
from earnloop.wallet.errors import NotFoundError, StateConflictError
from earnloop.wallet.ledger_ops import submit
from earnloop.wallet.withdrawals import service as withdrawals
from earnloop.wallet.withdrawals.models import withdrawals as w
from earnloop.wallet.withdrawals.payouts import PayoutProvider
from earnloop.wallet.withdrawals.schemas import Withdrawal

LIST_MAX = 200
REJECTED_REASON = "rejected by a risk review"


def list_in_review(conn: Connection, *, limit: int = 50) -> list[dict[str, Any]]:
    """Withdrawals waiting for a reviewer, oldest first, each with its review (reasons, review id)."""
    rows = conn.execute(
        select(w).where(w.c.state == "in_review").order_by(w.c.id).limit(max(1, min(limit, LIST_MAX)))
    ).all()
    return [{**withdrawals.as_dict(row), "review": _review(conn, int(row.id))} for row in rows]


def _review(conn: Connection, withdrawal_id: int) -> dict[str, Any] | None:
    return reviews.review_of(conn, source=withdrawals.REVIEW_SOURCE, reward_ref=str(withdrawal_id))


def decide(
    conn: Connection,
    ledger: LedgerService,
    withdrawal_id: int,
    *,
    approve: bool,
    reviewer: str,
    note: str,
) -> dict[str, Any]:
    """Approve (→ ``requested``) or reject (→ ``rejected``, hold voided) a held withdrawal, once.
    Never commits; returns the withdrawal with its decided review."""
    review = _review(conn, withdrawal_id)
    if review is None:
        raise NotFoundError(f"withdrawal {withdrawal_id} was not held for a review")
    now = ledger.clock.now_ns()
    decided = reviews.decide(
        conn, int(review["review_id"]), approve=approve, reviewer=reviewer, note=note, now_ns=now
    )
    changed = conn.execute(
        update(w)
        .where(w.c.id == withdrawal_id, w.c.state == "in_review")
        .values(
            state="requested" if approve else "rejected",
            failure_reason=None if approve else REJECTED_REASON,
            updated_at_ns=now,
        )
    ).rowcount
    if changed != 1:  # the review was open, so the withdrawal must still wait for it
        raise StateConflictError(f"withdrawal {withdrawal_id} is not in review")
    row = conn.execute(select(w).where(w.c.id == withdrawal_id)).one()
    if not approve:
        _void_hold(conn, ledger, row)
    return {**withdrawals.as_dict(row), "review": decided}


def _void_hold(conn: Connection, ledger: LedgerService, row: Any) -> None:
    void = Transfer(
        id=transfer_id("withdrawal", row.id, "void"),
        pending_id=dec128(row.hold_transfer_id),
        flags=TransferFlags.VOID_PENDING_TRANSFER,
    )
    submit(conn, ledger, [void])
    outbox.emit(
        conn,
        topic="withdrawal.failed",
        payload={
            "withdrawal_id": row.id,
            "user_id": row.user_id,
            "currency": row.currency,
            "amount": row.amount,
            "request_id": row.request_id,
            "state": "rejected",
            "reason": REJECTED_REASON,
        },
    )


def review_withdrawal(
    db: Database,
    ledger: LedgerService,
    provider: PayoutProvider,
    withdrawal_id: int,
    *,
    approve: bool,
    reviewer: str,
    note: str,
    box: SecretBox | None = None,
) -> dict[str, Any]:
    """Decide (one transaction, committed), then submit an approved withdrawal to the provider."""
    with db.uow() as conn:
        decided = decide(conn, ledger, withdrawal_id, approve=approve, reviewer=reviewer, note=note)
    if not approve:
        return decided
    submitted: Withdrawal = withdrawals.submit_held(db, ledger, provider, withdrawal_id, box)
    return {**submitted, "review": decided["review"]}
