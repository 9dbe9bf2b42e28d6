"""HTTP shapes of the credit line (amounts in minor units, times in ns since the epoch)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from earnloop.bounds import ID_MAX
from earnloop.wallet.schemas import Amount, CurrencyCode, Strict


class LineOut(BaseModel):
    user_id: int
    currency: str
    limit: int
    drawn: int = Field(description="Owed on the line (draws and fees not repaid).")
    line_debt: int = Field(description="Overdue balance moved to debt (freezes withdrawals) not repaid.")
    owed: int
    available: int = Field(description="What can be drawn now: max(0, limit − owed).")
    fee_bps: int
    next_statement_at_ns: int


class QuoteIn(Strict):
    currency: str = CurrencyCode
    merchant_id: int = Field(strict=True, gt=0, le=ID_MAX)
    amount: int = Amount


class QuoteOut(BaseModel):
    merchant_id: int
    currency: str
    amount: int
    fee: int = Field(description="The fee of this draw; confirm the draw with it.")
    total: int
    available: int
    fits: bool


class DrawIn(QuoteIn):
    fee: int = Field(strict=True, ge=0, le=1 << 62, description="The fee the quote showed.")
    reference: str | None = Field(default=None, min_length=1, max_length=200)


class DrawOut(BaseModel):
    merchant_id: int
    currency: str
    amount: int
    fee: int
    total: int
    reference: str | None
    transfer_id: str
    line: LineOut


class RepayIn(Strict):
    currency: str = CurrencyCode
    amount: int | None = Field(
        default=None, strict=True, gt=0, le=1 << 62, description="Default: everything owed."
    )


class RepayOut(BaseModel):
    currency: str
    amount: int
    source: str
    line: LineOut


class LimitIn(Strict):
    currency: str = CurrencyCode
    limit: int = Field(strict=True, ge=0, le=1 << 48)


class StatementLine(BaseModel):
    kind: str
    amount: int
    fee: int
    merchant_id: int | None
    reference: str | None
    at_ns: int


class StatementOut(BaseModel):
    statement_id: int
    period_start_ns: int
    period_end_ns: int
    balance_due: int
    minimum_due: int
    due_at_ns: int
    repaid: int
    remaining: int
    state: str
    lines: list[StatementLine]


class StatementView(BaseModel):
    line: LineOut
    statement: StatementOut | None = Field(description="The latest statement (null before the first).")
    unbilled: list[StatementLine]

    @classmethod
    def of(cls, value: dict[str, Any]) -> StatementView:
        return cls.model_validate(value)
