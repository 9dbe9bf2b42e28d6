"""Shapes of deposit holds: ``Hold``, a hold as the service answers it (and as its idempotency records keep
it: times in Unix ns), and ``HoldOut``, its HTTP form (times in RFC 3339); ``Mandate``, ``Policy`` and
``Override`` as their services answer them (their HTTP forms live in ``api/mandates.py`` and
``api/holds.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from pydantic import BaseModel, Field

from earnloop.wallet.schemas import from_ns


class Hold(TypedDict):
    hold_id: str
    partner_id: int
    ref: str
    user_id: int
    product: str
    currency: str
    amount: int
    amount_basis: str
    captured: int
    released: int
    state: str
    approved_via: str | None
    mandate_id: str | None
    approve_by_ns: int | None
    expires_in_s: int
    expires_at_ns: int | None
    reason: str | None
    credit_decision: dict[str, Any] | None
    created_at_ns: int
    updated_at_ns: int


class Mandate(TypedDict):
    mandate_id: str
    user_id: int
    partner_id: int
    currency: str
    total_limit: int
    max_per_hold: int | None
    used: int
    state: str
    expires_at_ns: int
    revoked_at_ns: int | None
    created_at_ns: int


class Policy(TypedDict):
    product: str
    currency: str
    partner_id: int
    amount: int
    min_credit_score: int | None
    updated_at_ns: int


class Override(TypedDict):
    product: str
    currency: str
    user_id: int
    amount: int
    reason: str
    updated_at_ns: int


class CreditDecisionOut(BaseModel):
    waived: bool = Field(description="True: no deposit is held (state `waived`).")
    rule: str = Field(description="min_credit_score, deposit_free, below_threshold or no_score")
    explanation: str
    score: int | None
    model_version: int | None
    band: str | None
    reasons: list[str] = Field(description="The score's top reasons, in plain words.")
    reduced_pct: int = Field(default=0, description="Not waived: the deposit was reduced by this share.")


class HoldOut(BaseModel):
    hold_id: str
    partner_id: int
    ref: str
    user_id: int
    product: str
    currency: str
    amount: int
    amount_basis: str = Field(description="`policy` or `override` (a per-user amount).")
    captured: int
    released: int
    state: str = Field(description="requested, waived, held, captured, released, expired or declined")
    approved_via: str | None = Field(description="user, mandate or operator; null until it takes effect.")
    mandate_id: str | None
    approve_by: datetime | None = Field(description="When an unapproved request expires.")
    expires_in_s: int
    expires_at: datetime | None = Field(description="When the held money is released; null until held.")
    reason: str | None
    credit_decision: CreditDecisionOut | None = Field(
        default=None, description="The credit decision taken on the request; null when none was asked."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, h: Hold) -> HoldOut:
        return cls(
            hold_id=h["hold_id"],
            partner_id=h["partner_id"],
            ref=h["ref"],
            user_id=h["user_id"],
            product=h["product"],
            currency=h["currency"],
            amount=h["amount"],
            amount_basis=h["amount_basis"],
            captured=h["captured"],
            released=h["released"],
            state=h["state"],
            approved_via=h["approved_via"],
            mandate_id=h["mandate_id"],
            approve_by=_at(h["approve_by_ns"]),
            expires_in_s=h["expires_in_s"],
            expires_at=_at(h["expires_at_ns"]),
            reason=h["reason"],
            credit_decision=_decision(h["credit_decision"]),
            created_at=from_ns(h["created_at_ns"]),
            updated_at=from_ns(h["updated_at_ns"]),
        )


def _decision(decision: dict[str, Any] | None) -> CreditDecisionOut | None:
    return None if decision is None else CreditDecisionOut(**decision)


def _at(ns: int | None) -> datetime | None:
    return None if ns is None else from_ns(ns)
