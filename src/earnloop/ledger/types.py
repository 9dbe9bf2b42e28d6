"""Value types of the ledger: accounts, transfers, flags, filters and balances (TigerBeetle's shapes), the
statuses of pending transfers, the balance changes the state machine decides, and how 128- and 64-bit
numbers are stored (16-byte big-endian binaries; two's-complement BIGINT). No SQL: the repository, the state
machine and other domains all import these from here.

Integers only. Ids and ``user_data_128`` are unsigned 128-bit; ``user_data_64`` is unsigned 64-bit;
timestamps are nanoseconds since the Unix epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag

U128_MAX = (1 << 128) - 1
U64_MAX = (1 << 64) - 1
U32_MAX = (1 << 32) - 1
U16_MAX = (1 << 16) - 1
# Largest balance (and so largest effective amount) the SQL ledger can hold: a signed BIGINT.
# An amount above it can only succeed where TigerBeetle clamps it (balancing, post of AMOUNT_MAX).
BALANCE_MAX = (1 << 63) - 1
AMOUNT_MAX = U128_MAX
BATCH_MAX = 8190
NS_PER_S = 1_000_000_000


class AccountFlags(IntFlag):
    NONE = 0
    LINKED = 1 << 0
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1 << 1
    CREDITS_MUST_NOT_EXCEED_DEBITS = 1 << 2
    HISTORY = 1 << 3
    IMPORTED = 1 << 4
    CLOSED = 1 << 5


class TransferFlags(IntFlag):
    NONE = 0
    LINKED = 1 << 0
    PENDING = 1 << 1
    POST_PENDING_TRANSFER = 1 << 2
    VOID_PENDING_TRANSFER = 1 << 3
    BALANCING_DEBIT = 1 << 4
    BALANCING_CREDIT = 1 << 5
    CLOSING_DEBIT = 1 << 6
    CLOSING_CREDIT = 1 << 7
    IMPORTED = 1 << 8


class AccountFilterFlags(IntFlag):
    NONE = 0
    DEBITS = 1 << 0
    CREDITS = 1 << 1
    REVERSED = 1 << 2


ACCOUNT_FLAGS_KNOWN = int(sum(AccountFlags))
TRANSFER_FLAGS_KNOWN = int(sum(TransferFlags))
FILTER_FLAGS_KNOWN = int(sum(AccountFilterFlags))


@dataclass(slots=True)
class Account:
    """A ledger account. Balances and the ``closed`` flag are the only fields that ever change."""

    id: int
    ledger: int
    code: int
    flags: int = 0
    user_data_128: int = 0
    user_data_64: int = 0
    user_data_32: int = 0
    reserved: int = 0
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0
    timestamp: int = 0


@dataclass(slots=True)
class Transfer:
    """A transfer, as submitted (``timestamp`` 0) or as stored (server timestamp set)."""

    id: int
    debit_account_id: int = 0
    credit_account_id: int = 0
    amount: int = 0
    ledger: int = 0
    code: int = 0
    flags: int = 0
    pending_id: int = 0
    timeout: int = 0
    user_data_128: int = 0
    user_data_64: int = 0
    user_data_32: int = 0
    timestamp: int = 0


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """An account's balances right after the transfer (or expiry) at ``timestamp``."""

    timestamp: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


@dataclass(frozen=True, slots=True)
class AccountFilter:
    """Selects an account's transfers or balance history (TigerBeetle's ``AccountFilter``)."""

    account_id: int
    limit: int
    flags: int = AccountFilterFlags.DEBITS | AccountFilterFlags.CREDITS
    timestamp_min: int = 0
    timestamp_max: int = 0
    user_data_128: int = 0
    user_data_64: int = 0
    user_data_32: int = 0
    code: int = 0


# -- pending transfers and balance changes (decided by the state machine, written by the repository) -----

STATUS_PENDING = 1
STATUS_POSTED = 2
STATUS_VOIDED = 3
STATUS_EXPIRED = 4


@dataclass(slots=True)
class PendingInfo:
    """Status of a pending transfer: 1 pending, 2 posted, 3 voided, 4 expired."""

    status: int
    expires_at: int | None


@dataclass(frozen=True, slots=True)
class AccountDelta:
    account_id: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    closed: bool


# -- storage encoding of 128- and 64-bit numbers ---------------------------------------------------------


def enc128(value: int) -> bytes:
    return value.to_bytes(16, "big")


def dec128(value: bytes) -> int:
    return int.from_bytes(value, "big")


def enc64(value: int) -> int:
    """Unsigned 64-bit → signed BIGINT (two's complement), so every u64 fits."""
    return value - (1 << 64) if value >= 1 << 63 else value


def dec64(value: int) -> int:
    return value + (1 << 64) if value < 0 else value
