"""Currencies the platform keeps money in: ISO 4217 code, numeric code (= the ledger number) and the
number of minor-unit digits, read from the ISO 4217 list that the ``iso4217`` package ships (kept current
by its maintainers from the maintenance agency's published table; ADR 0020). Amounts are always integers
in minor units.

Supported: every current ISO 4217 currency with a numeric code and a number of minor units. Refused: fund
codes (``IsFund``, e.g. ``CLF``, ``USN``), codes without minor units (precious metals ``XAU``…, ``XDR``,
the testing code ``XTS``, ``XXX`` for "no currency") and anything not in ISO 4217 (``BTC``).

On the base floor (ADR 0022): the ledger numbers, the wallet, the catalog and the input bounds all read it."""

from __future__ import annotations

from dataclasses import dataclass

import iso4217

from earnloop.errors import DomainError


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    ledger: int
    exponent: int


def _fund_codes() -> frozenset[str]:
    """Codes whose name ISO marks ``IsFund="true"`` (the package's parsed table drops that attribute)."""
    codes: set[str] = set()
    for entry in iso4217.raw_xml.iter("CcyNtry"):
        name, code = entry.find("CcyNm"), entry.find("Ccy")
        if name is not None and code is not None and code.text and name.get("IsFund") == "true":
            codes.add(code.text.strip())
    return frozenset(codes)


def _load() -> dict[str, Currency]:
    funds = _fund_codes()
    found: dict[str, Currency] = {}
    for code, row in iso4217.raw_table.items():
        digits, number = row.get("CcyMnrUnts"), row.get("CcyNbr")
        if not code or not isinstance(number, int) or not isinstance(digits, str) or not digits.isdigit():
            continue  # no currency (ZZ entries, "N.A." minor units: metals, XDR, XTS, XXX)
        if code in funds:
            continue
        found[code] = Currency(code, number, int(digits))
    return dict(sorted(found.items()))


CURRENCIES: dict[str, Currency] = _load()
CODES: tuple[str, ...] = tuple(CURRENCIES)


class UnknownCurrencyError(DomainError, ValueError):
    """Not a currency this platform keeps."""

    status = 422
    slug = "invalid-request"
    title = "Invalid request"


def currency(code: str) -> Currency:
    """The currency for an ISO code (case-insensitive); :class:`UnknownCurrencyError` otherwise."""
    found = CURRENCIES.get(code.upper()) if isinstance(code, str) else None
    if found is None:
        raise UnknownCurrencyError(
            f"unknown currency {code!r}: not a current ISO 4217 currency (funds, metals and test codes "
            "are refused)"
        )
    return found
