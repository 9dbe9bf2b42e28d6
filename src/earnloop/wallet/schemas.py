"""HTTP shapes of the wallet. Amounts are integers in minor units with an ISO 4217 currency;
times are RFC 3339 in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from earnloop.bounds import AMOUNT_MAX, Strict, currency_field
from earnloop.wallet.service import HistoryEntry, WalletView

__all__ = ["AMOUNT_MAX", "Amount", "CurrencyCode", "Strict"]

Amount = Field(strict=True, gt=0, le=AMOUNT_MAX, description="Integer minor units (e.g. cents).")
CurrencyCode = currency_field(description="ISO 4217 code (one of the supported currencies).")


def to_ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000


def from_ns(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1_000
    )


class UserIn(Strict):
    handle: str = Field(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]{2,63}$")


class UserCreated(BaseModel):
    user_id: int
    token: str = Field(description="Shown once; store it. Authenticates the user's requests.")


class PartnerIn(Strict):
    name: str = Field(min_length=1, max_length=120)
    kind: Literal["merchant", "charity", "game_publisher", "affiliate_network", "payout"]
    settlement_currency: str = CurrencyCode


class PartnerCreated(BaseModel):
    partner_id: int
    api_key: str = Field(description="Shown once; send it as `X-Api-Key`.")


class AdjustmentIn(Strict):
    amount: int = Amount
    direction: Literal["credit", "debit"]
    reason: str = Field(min_length=1, max_length=500)


class FundingIn(Strict):
    kind: Literal["partner", "campaign", "operator"]
    owner: int = Field(default=0, ge=0, le=(1 << 63) - 1)


class CashbackIn(Strict):
    source: Literal["game", "shopping", "einvoice", "promotion", "manual"]
    ref: str = Field(min_length=1, max_length=200)
    user_id: int = Field(ge=1)
    currency: str = CurrencyCode
    amount: int = Amount
    release_at: AwareDatetime
    funding: FundingIn


class CashbackOut(BaseModel):
    entry_id: int
    user_id: int
    currency: str
    source: str
    ref: str
    amount: int
    status: str
    release_at: datetime
    clawed_back: int
    debt_recorded: int


class PendingItemOut(BaseModel):
    amount: int
    source: str
    ref: str
    release_at: datetime


class WalletOut(BaseModel):
    user_id: int
    currency: str
    available: int = Field(description="Spendable now.")
    pending: int = Field(description="Cashback awaiting its release date.")
    held: int = Field(description="Reserved: deposits, escrow, withdrawals in flight.")
    debt: int = Field(description="Owed after a clawback; repaid from new cashback first.")
    lifetime_earned: int
    pending_items: list[PendingItemOut]

    @classmethod
    def of(cls, v: WalletView) -> WalletOut:
        return cls(
            user_id=v.user_id,
            currency=v.currency,
            available=v.available,
            pending=v.pending,
            held=v.held,
            debt=v.debt,
            lifetime_earned=v.lifetime_earned,
            pending_items=[
                PendingItemOut(
                    amount=p.amount, source=p.source, ref=p.ref, release_at=from_ns(p.release_at_ns)
                )
                for p in v.pending_items
            ],
        )


class HistoryEntryOut(BaseModel):
    at: datetime
    cursor: int = Field(description="Pass as `before` to get the next (older) page.")
    kind: str
    description: str
    amount: int = Field(description="Signed minor units: + in, − out.")
    state: str

    @classmethod
    def of(cls, e: HistoryEntry) -> HistoryEntryOut:
        return cls(
            at=from_ns(e.timestamp_ns),
            cursor=e.timestamp_ns,
            kind=e.kind,
            description=e.description,
            amount=e.amount,
            state=e.state,
        )
