"""HTTP shapes of the catalog. Writes take free-form objects validated by the catalog's own rules (so
HTTP, CSV and JSON imports report the same messages); reads return the service's dicts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from earnloop.bounds import AMOUNT_MAX, Strict


class FundIn(Strict):
    amount: int = Field(gt=0, le=AMOUNT_MAX, description="Minor units moved operator → campaign budget.")


class PriceIn(Strict):
    user_id: int = Field(ge=1)
    at_ns: int | None = Field(default=None, ge=0, description="Default: now.")
    game_id: int | None = Field(default=None, ge=1)
    milestone_id: int | None = Field(default=None, ge=1)
    merchant_id: int | None = Field(default=None, ge=1)
    base_amount: int | None = Field(default=None, gt=0, le=AMOUNT_MAX, description="Purchase (merchants).")
    category: str | None = Field(default=None, max_length=32)


class UseIn(Strict):
    subject: str = Field(pattern="^(campaign|milestone)$")
    subject_id: int = Field(ge=1)
    user_id: int = Field(ge=1)
    ref: str = Field(min_length=1, max_length=200)
    amount: int = Field(default=0, ge=0, le=AMOUNT_MAX)


class ImportRowError(BaseModel):
    row: int
    field: str
    message: str


class Listing(BaseModel):
    items: list[dict[str, Any]]
