"""Shapes of donations as their service answers them (and as idempotency records keep them: times in
Unix ns): ``Campaign`` (with its progress; ``CharityCampaign`` adds the charity's name), ``Donation``,
and a charity's ``Statement`` with its ``StatementEntry`` lines (donors masked). The HTTP forms live in
``api/withdrawals.py``."""

from __future__ import annotations

from typing import TypedDict


class Campaign(TypedDict):
    campaign_id: int
    charity_id: int
    name: str
    currency: str
    goal: int
    raised: int
    donations_count: int
    percent_of_goal: float
    starts_at_ns: int
    ends_at_ns: int
    active: bool


class CharityCampaign(Campaign):
    charity_name: str


class Donation(TypedDict):
    donation_id: int
    campaign_id: int
    charity_id: int
    currency: str
    amount: int
    created_at_ns: int
    transfer_id: str


class StatementEntry(TypedDict):
    donation_id: int
    campaign_id: int
    amount: int
    donor: str
    created_at_ns: int


class Statement(TypedDict):
    charity_id: int
    charity_name: str
    currency: str
    donations_total: int
    donations_count: int
    ledger_balance: int
    reconciled: bool
    donations: list[StatementEntry]
