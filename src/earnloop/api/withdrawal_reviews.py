"""``/v1/admin/withdrawals/…``: the reviewers' queue of withdrawals risk screening held (admin token).
Approve submits the withdrawal to the payout provider; reject voids its hold (the money is back in the
wallet). Each is decided once: a second decision answers 409 ``review-decided``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from earnloop.api.context import AppContext
from earnloop.api.deps import Admin
from earnloop.api.problems import problem_responses
from earnloop.api.types import Id
from earnloop.api.withdrawals import WithdrawalOut, provider_of
from earnloop.risk.reviews import NOTE_CHARS_MAX, REVIEWER_CHARS_MAX
from earnloop.wallet.schemas import Strict, from_ns
from earnloop.wallet.withdrawals import reviews
from earnloop.wallet.withdrawals.schemas import Withdrawal

router = APIRouter(
    prefix="/v1/admin/withdrawals", tags=["withdrawals"], responses=problem_responses(401, 404, 409, 422)
)


class DecisionIn(Strict):
    reviewer: str = Field(min_length=1, max_length=REVIEWER_CHARS_MAX, description="Who decides.")
    note: str = Field(default="", max_length=NOTE_CHARS_MAX, description="Why (kept with the review).")


class ReviewOut(BaseModel):
    review_id: int
    status: str = Field(description="open, approved or rejected.")
    reasons: list[str] = Field(description="The risk rules that held the withdrawal.")
    reviewer: str | None
    note: str | None
    created_at: datetime
    decided_at: datetime | None

    @classmethod
    def of(cls, review: dict[str, Any]) -> ReviewOut:
        decided = review["decided_at_ns"]
        return cls(
            review_id=review["review_id"],
            status=review["status"],
            reasons=review["reasons"],
            reviewer=review["reviewer"],
            note=review["note"],
            created_at=from_ns(review["created_at_ns"]),
            decided_at=None if decided is None else from_ns(decided),
        )


class ReviewedWithdrawalOut(WithdrawalOut):
    user_id: int
    review: ReviewOut | None

    @classmethod
    def reviewed(cls, d: dict[str, Any]) -> ReviewedWithdrawalOut:
        review = d.get("review")  # WithdrawalOut ignores this extra key
        return cls(
            **WithdrawalOut.of(cast(Withdrawal, d)).model_dump(),
            user_id=d["user_id"],
            review=None if review is None else ReviewOut.of(review),
        )


@router.get("/in-review", response_model=list[ReviewedWithdrawalOut])
def in_review(
    ctx: Admin, limit: Annotated[int, Query(ge=1, le=reviews.LIST_MAX)] = 50
) -> list[ReviewedWithdrawalOut]:
    """Withdrawals held by risk screening, oldest first, with the reasons they were held."""
    with ctx.db.uow(write=False) as conn:
        return [ReviewedWithdrawalOut.reviewed(d) for d in reviews.list_in_review(conn, limit=limit)]


@router.post("/{withdrawal_id}/approve", response_model=ReviewedWithdrawalOut)
def approve(withdrawal_id: Id, body: DecisionIn, ctx: Admin, request: Request) -> ReviewedWithdrawalOut:
    """Release a held withdrawal: it is submitted to the payout provider now."""
    return _decide(withdrawal_id, body, ctx, request, approve=True)


@router.post("/{withdrawal_id}/reject", response_model=ReviewedWithdrawalOut)
def reject(withdrawal_id: Id, body: DecisionIn, ctx: Admin, request: Request) -> ReviewedWithdrawalOut:
    """Refuse a held withdrawal: its hold is voided and the money is back in the user's wallet."""
    return _decide(withdrawal_id, body, ctx, request, approve=False)


def _decide(
    withdrawal_id: int, body: DecisionIn, ctx: AppContext, request: Request, *, approve: bool
) -> ReviewedWithdrawalOut:
    decided = reviews.review_withdrawal(
        ctx.db,
        ctx.ledger,
        provider_of(request),
        withdrawal_id,
        approve=approve,
        reviewer=body.reviewer,
        note=body.note,
        box=ctx.box,
    )
    return ReviewedWithdrawalOut.reviewed(decided)
