"""Shape checks run before a batch touches the database: sizes, integer types and field ranges.

TigerBeetle's wire format cannot carry a negative, fractional or oversized number; here such input is
refused as a whole with :class:`InvalidBatchError`, which the API turns into a 422 problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from operator import attrgetter, itemgetter, le
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
_PLAIN_INT = {int}


def _validate(items: Sequence[T], kind: type[T], limits: dict[str, int], what: str) -> list[T]:
    """Check every field; return the items with plain ``int`` fields (``IntFlag`` values are copied
    as ints, so the state machine's hot loop does integer arithmetic, not enum operations)."""
    if len(items) > BATCH_MAX:
        raise InvalidBatchError(f"at most {BATCH_MAX} {what} per batch, got {len(items)}")
    names = tuple(limits)
    bounds = tuple(limits.values())
    read = attrgetter(*names)
    narrow = [i for i, bound in enumerate(bounds) if bound < U128_MAX]
    read_narrow = itemgetter(*narrow)
    narrow_bounds = tuple(bounds[i] for i in narrow)
    checked: list[T] = []
    for index, item in enumerate(items):
        if type(item) is not kind:
            raise InvalidBatchError(f"{what}[{index}]: expected {kind.__name__}")
        values = read(item)
        # Fast path in C: every field a plain int, none negative, none above its bound.
        if (
            set(map(type, values)) == _PLAIN_INT
            and min(values) >= 0
            and max(values) <= U128_MAX
            and all(map(le, read_narrow(values), narrow_bounds))
        ):
            checked.append(item)
            continue
        checked.append(_normalised(item, kind, names, values, bounds, f"{what}[{index}]"))
    return checked


def _normalised(
    item: T, kind: type[T], names: tuple[str, ...], values: Any, bounds: tuple[int, ...], where: str
) -> T:
    plain = {}
    for name, value, bound in zip(names, values, bounds, strict=True):
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidBatchError(f"{where}.{name}: must be an integer")
        if not 0 <= value <= bound:
            raise InvalidBatchError(f"{where}.{name}: must be between 0 and {bound}")
        plain[name] = int(value)
    return kind(**plain)


def validate_accounts(items: Sequence[Account]) -> list[Account]:
    return _validate(items, Account, _ACCOUNT_LIMITS, "accounts")


def validate_transfers(items: Sequence[Transfer]) -> list[Transfer]:
    return _validate(items, Transfer, _TRANSFER_LIMITS, "transfers")
