"""Shapes of escrow: ``Trade``, a trade as the service answers it (and as its idempotency records keep it:
times in Unix ns), and ``TradeOut``, its HTTP form (times in RFC 3339)."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from pydantic import BaseModel, Field

from earnloop.wallet.schemas import from_ns


class Trade(TypedDict):
    trade_id: str
    partner_id: int
    trade_ref: str
    buyer_user_id: int | None
    currency: str
    amount: int
    state: str
    pay_deadline_ns: int
    confirm_timeout_s: int
    confirm_deadline_ns: int | None
    close_reason: str | None
    created_at_ns: int
    updated_at_ns: int


class TradeOut(BaseModel):
    trade_id: str
    partner_id: int
    trade_ref: str
    buyer_user_id: int | None
    currency: str
    amount: int
    state: str = Field(
        description="WAIT_BUYER_PAY, WAIT_SELLER_SEND, WAIT_BUYER_CONFIRM, TRADE_FINISHED, TRADE_CLOSED"
    )
    pay_deadline: datetime
    confirm_timeout_s: int
    confirm_deadline: datetime | None
    close_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, t: Trade) -> TradeOut:
        return cls(
            trade_id=t["trade_id"],
            partner_id=t["partner_id"],
            trade_ref=t["trade_ref"],
            buyer_user_id=t["buyer_user_id"],
            currency=t["currency"],
            amount=t["amount"],
            state=t["state"],
            pay_deadline=from_ns(t["pay_deadline_ns"]),
            confirm_timeout_s=t["confirm_timeout_s"],
            confirm_deadline=_at(t["confirm_deadline_ns"]),
            close_reason=t["close_reason"],
            created_at=from_ns(t["created_at_ns"]),
            updated_at=from_ns(t["updated_at_ns"]),
        )


def _at(ns: int | None) -> datetime | None:
    return None if ns is None else from_ns(ns)
