"""Shapes of FX as its service answers them (and as its idempotency records keep them: times in Unix
ns): ``Rate``, ``QuoteAmounts`` (what a conversion would give) and ``Conversion``. The HTTP forms live
in ``api/pay.py``."""

from __future__ import annotations

from typing import TypedDict


class Rate(TypedDict):
    rate_id: int
    base: str
    quote: str
    rate: str
    spread_bps: int
    valid_from_ns: int


class QuoteAmounts(TypedDict):
    from_currency: str
    to_currency: str
    amount_from: int
    amount_to: int
    rate_id: int
    rate: str
    spread_bps: int


class Conversion(QuoteAmounts):
    conversion_id: int
    user_id: int
