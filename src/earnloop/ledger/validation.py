"""Shape checks run before a batch touches the database: sizes, integer types and field ranges.

TigerBeetle's wire format cannot carry a negative, fractional or oversized number; here such input is
refused as a whole with :class:`InvalidBatchError`, which the API turns into a 422 problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any, TypeVar

from earnloop.ledger.errors import InvalidBatchError
from earnloop.ledger.types import BATCH_MAX, U16_MAX, U32_MAX, U64_MAX, U128_MAX, Account, Transfer

_ACCOUNT_LIMITS = {
    "id": U128_MAX,
    "ledger": U32_MAX,
    "code": U16_MAX,
    "flags": U16_MAX,
    "user_data_128": U128_MAX,
    "user_data_64": U64_MAX,
    "user_data_32": U32_MAX,
    "reserved": U32_MAX,
    "debits_pending": U128_MAX,
    "debits_posted": U128_MAX,
    "credits_pending": U128_MAX,
    "credits_posted": U128_MAX,
    "timestamp": U64_MAX,
}
_TRANSFER_LIMITS = {
    "id": U128_MAX,
    "debit_account_id": U128_MAX,
    "credit_account_id": U128_MAX,
    "amount": U128_MAX,
    "ledger": U32_MAX,
    "code": U16_MAX,
    "flags": U16_MAX,
    "pending_id": U128_MAX,
    "timeout": U32_MAX,
    "user_data_128": U128_MAX,
    "user_data_64": U64_MAX,
    "user_data_32": U32_MAX,
    "timestamp": U64_MAX,
}
assert set(_ACCOUNT_LIMITS) == {f.name for f in fields(Account)}
assert set(_TRANSFER_LIMITS) == {f.name for f in fields(Transfer)}

T = TypeVar("T", Account, Transfer)


def _validate(items: Sequence[T], kind: type[T], limits: dict[str, int], what: str) -> list[T]:
    if len(items) > BATCH_MAX:
        raise InvalidBatchError(f"at most {BATCH_MAX} {what} per batch, got {len(items)}")
    for index, item in enumerate(items):
        if not isinstance(item, kind):
            raise InvalidBatchError(f"{what}[{index}]: expected {kind.__name__}")
        for name, limit in limits.items():
            value: Any = getattr(item, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidBatchError(f"{what}[{index}].{name}: must be an integer")
            if not 0 <= value <= limit:
                raise InvalidBatchError(f"{what}[{index}].{name}: must be between 0 and {limit}")
    return list(items)


def validate_accounts(items: Sequence[Account]) -> list[Account]:
    return _validate(items, Account, _ACCOUNT_LIMITS, "accounts")


def validate_transfers(items: Sequence[Transfer]) -> list[Transfer]:
    return _validate(items, Transfer, _TRANSFER_LIMITS, "transfers")
