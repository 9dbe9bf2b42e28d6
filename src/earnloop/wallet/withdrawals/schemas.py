"""Shapes of withdrawals as their service answers them (and as idempotency records keep them: times in
Unix ns): ``Withdrawal`` and ``Destination`` (its account number only masked). The HTTP forms live in
``api/withdrawals.py``."""

from __future__ import annotations

from typing import TypedDict


class Withdrawal(TypedDict):
    withdrawal_id: int
    user_id: int
    currency: str
    amount: int
    destination_id: int
    request_id: str
    state: str
    provider_ref: str | None
    failure_reason: str | None
    created_at_ns: int
    updated_at_ns: int


class Destination(TypedDict):
    destination_id: int
    kind: str
    institution: str
    holder_name: str
    account_masked: str
    active: bool
