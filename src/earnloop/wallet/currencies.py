"""Currencies the platform keeps money in: ISO 4217 code, numeric code (= the ledger number) and the
number of minor-unit digits. Amounts are always integers in minor units."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    ledger: int
    exponent: int


CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("TWD", 901, 2),
        Currency("USD", 840, 2),
        Currency("EUR", 978, 2),
        Currency("JPY", 392, 0),
        Currency("HKD", 344, 2),
        Currency("SGD", 702, 2),
        Currency("MYR", 458, 2),
        Currency("THB", 764, 2),
        Currency("KRW", 410, 0),
        Currency("CNY", 156, 2),
    )
}


class UnknownCurrencyError(ValueError):
    """Not a currency this platform keeps."""


def currency(code: str) -> Currency:
    """The currency for an ISO code (case-insensitive); :class:`UnknownCurrencyError` otherwise."""
    found = CURRENCIES.get(code.upper()) if isinstance(code, str) else None
    if found is None:
        raise UnknownCurrencyError(f"unknown currency {code!r}; supported: {', '.join(sorted(CURRENCIES))}")
    return found
