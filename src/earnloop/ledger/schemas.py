"""Pydantic I/O for the ledger over HTTP. 128-bit and 64-bit integers travel as decimal strings (JSON
numbers lose precision above 2**53); integers are accepted too. Flags are integers (bit sets)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from earnloop.ledger.types import (
    BATCH_MAX,
    U16_MAX,
    U32_MAX,
    U64_MAX,
    U128_MAX,
    Account,
    AccountBalance,
    Transfer,
)


def _parse_uint(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("must be an unsigned integer, not a boolean")
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit() or not text.isascii():
            raise ValueError("must be a non-negative integer written in decimal digits")
        return int(text)
    if isinstance(value, float):
        raise ValueError("must be an integer, not a float")
    return value


def _uint(maximum: int) -> object:
    return Annotated[
        int,
        BeforeValidator(_parse_uint),
        Field(ge=0, le=maximum, strict=False),
        PlainSerializer(str, return_type=str, when_used="json"),
    ]


U128 = _uint(U128_MAX)
U64 = _uint(U64_MAX)
U32 = Annotated[int, BeforeValidator(_parse_uint), Field(ge=0, le=U32_MAX)]
U16 = Annotated[int, BeforeValidator(_parse_uint), Field(ge=0, le=U16_MAX)]


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: U128  # type: ignore[valid-type]
    ledger: U32
    code: U16
    flags: U16 = 0
    user_data_128: U128 = 0  # type: ignore[valid-type]
    user_data_64: U64 = 0  # type: ignore[valid-type]
    user_data_32: U32 = 0

    def to_domain(self) -> Account:
        return Account(**self.model_dump())


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: U128  # type: ignore[valid-type]
    debit_account_id: U128 = 0  # type: ignore[valid-type]
    credit_account_id: U128 = 0  # type: ignore[valid-type]
    amount: U128 = 0  # type: ignore[valid-type]
    ledger: U32 = 0
    code: U16 = 0
    flags: U16 = 0
    pending_id: U128 = 0  # type: ignore[valid-type]
    timeout: U32 = 0
    user_data_128: U128 = 0  # type: ignore[valid-type]
    user_data_64: U64 = 0  # type: ignore[valid-type]
    user_data_32: U32 = 0

    def to_domain(self) -> Transfer:
        return Transfer(**self.model_dump())


class AccountsBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accounts: list[AccountIn] = Field(max_length=BATCH_MAX)


class TransfersBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transfers: list[TransferIn] = Field(max_length=BATCH_MAX)


class CreateResultOut(BaseModel):
    index: int
    status: str = Field(description="`created`, or the TigerBeetle result code name.")
    code: int = Field(description="TigerBeetle's numeric status (0xFFFFFFFF for created).")
    timestamp: U64  # type: ignore[valid-type]


class CreateResultsOut(BaseModel):
    results: list[CreateResultOut]


class AccountOut(BaseModel):
    id: U128  # type: ignore[valid-type]
    ledger: int
    code: int
    flags: int
    user_data_128: U128  # type: ignore[valid-type]
    user_data_64: U64  # type: ignore[valid-type]
    user_data_32: int
    debits_pending: U128  # type: ignore[valid-type]
    debits_posted: U128  # type: ignore[valid-type]
    credits_pending: U128  # type: ignore[valid-type]
    credits_posted: U128  # type: ignore[valid-type]
    timestamp: U64  # type: ignore[valid-type]

    @classmethod
    def of(cls, a: Account) -> AccountOut:
        return cls(
            id=a.id,
            ledger=a.ledger,
            code=a.code,
            flags=a.flags,
            user_data_128=a.user_data_128,
            user_data_64=a.user_data_64,
            user_data_32=a.user_data_32,
            debits_pending=a.debits_pending,
            debits_posted=a.debits_posted,
            credits_pending=a.credits_pending,
            credits_posted=a.credits_posted,
            timestamp=a.timestamp,
        )


class TransferOut(BaseModel):
    id: U128  # type: ignore[valid-type]
    debit_account_id: U128  # type: ignore[valid-type]
    credit_account_id: U128  # type: ignore[valid-type]
    amount: U128  # type: ignore[valid-type]
    ledger: int
    code: int
    flags: int
    pending_id: U128  # type: ignore[valid-type]
    timeout: int
    user_data_128: U128  # type: ignore[valid-type]
    user_data_64: U64  # type: ignore[valid-type]
    user_data_32: int
    timestamp: U64  # type: ignore[valid-type]

    @classmethod
    def of(cls, t: Transfer) -> TransferOut:
        return cls(
            id=t.id,
            debit_account_id=t.debit_account_id,
            credit_account_id=t.credit_account_id,
            amount=t.amount,
            ledger=t.ledger,
            code=t.code,
            flags=t.flags,
            pending_id=t.pending_id,
            timeout=t.timeout,
            user_data_128=t.user_data_128,
            user_data_64=t.user_data_64,
            user_data_32=t.user_data_32,
            timestamp=t.timestamp,
        )


class BalanceOut(BaseModel):
    """An account's balance: available = credits_posted − debits_posted − debits_pending."""

    account_id: U128  # type: ignore[valid-type]
    ledger: int
    debits_pending: U128  # type: ignore[valid-type]
    debits_posted: U128  # type: ignore[valid-type]
    credits_pending: U128  # type: ignore[valid-type]
    credits_posted: U128  # type: ignore[valid-type]
    net_credit: int = Field(description="credits_posted − debits_posted (may be negative).")
    available_credit: int = Field(description="credits_posted − debits_posted − debits_pending.")
    as_of: U64 | None = None  # type: ignore[valid-type]


class AccountBalanceOut(BaseModel):
    timestamp: U64  # type: ignore[valid-type]
    debits_pending: U128  # type: ignore[valid-type]
    debits_posted: U128  # type: ignore[valid-type]
    credits_pending: U128  # type: ignore[valid-type]
    credits_posted: U128  # type: ignore[valid-type]

    @classmethod
    def of(cls, b: AccountBalance) -> AccountBalanceOut:
        return cls(
            timestamp=b.timestamp,
            debits_pending=b.debits_pending,
            debits_posted=b.debits_posted,
            credits_pending=b.credits_pending,
            credits_posted=b.credits_posted,
        )
