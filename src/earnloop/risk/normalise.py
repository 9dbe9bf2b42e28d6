"""One spelling per entity value, so that a list entry, a feed entry, a phone report and an event's key
match whenever they name the same thing (issue 15, ADR 0026).

Owns :func:`normalise` (entity key + raw value → stored value, or :class:`RiskInputError`) and
:func:`to_e164` (phone numbers, with ``phonenumbers``; a number without a country code is read in the
configured default region).
"""

from __future__ import annotations

import ipaddress

import phonenumbers

from earnloop.risk.events import ENTITY_KEYS
from earnloop.risk.list_errors import RiskInputError
from earnloop.risk.list_models import VALUE_CHARS_MAX

DEFAULT_PHONE_REGION = "TW"
PHONE_INPUT_CHARS_MAX = 40
_LOWERCASE_KEYS = frozenset({"device", "card", "payee", "offer"})
_UPPERCASE_KEYS = frozenset({"carrier"})  # e-invoice carrier barcodes are upper case (/ABC+123)
_ID_KEYS = frozenset({"user", "partner"})


def to_e164(number: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """``+<country code><number>``; a number without ``+`` is read as dialled in ``region``."""
    raw = number.strip()
    if not raw or len(raw) > PHONE_INPUT_CHARS_MAX:
        raise RiskInputError(f"phone number: 1 to {PHONE_INPUT_CHARS_MAX} characters")
    try:
        parsed = phonenumbers.parse(raw, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise RiskInputError(f"phone number {raw!r} cannot be read: {str(exc).split(') ', 1)[-1]}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise RiskInputError(f"phone number {raw!r} is not a valid number (region {region.upper()})")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise(key: str, value: str, *, phone_region: str = DEFAULT_PHONE_REGION) -> str:
    """The stored spelling of ``value`` for entity ``key``: phone → E.164, ip → canonical address,
    ip24 → ``a.b.c.0/24`` (from an IPv4 address or that network), user/partner → a decimal id, device,
    card, payee, offer → lower case, carrier → upper case; every value trimmed."""
    if key not in ENTITY_KEYS:
        raise RiskInputError(f"unknown entity key {key!r} (known: {', '.join(ENTITY_KEYS)})")
    raw = value.strip()
    if not raw or len(raw) > VALUE_CHARS_MAX or not raw.isprintable():
        raise RiskInputError(f"{key}: a value is 1 to {VALUE_CHARS_MAX} printable characters")
    if key == "phone":
        return to_e164(raw, phone_region)
    if key == "ip":
        return _ip(raw)
    if key == "ip24":
        return _ip24(raw)
    if key in _ID_KEYS:
        if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 1 << 63:
            raise RiskInputError(f"{key}: an id is a positive 64-bit decimal integer, not {raw[:40]!r}")
        return str(int(raw))
    if key in _LOWERCASE_KEYS:
        return raw.lower()
    return raw.upper() if key in _UPPERCASE_KEYS else raw


def _ip(raw: str) -> str:
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError as exc:
        raise RiskInputError(f"ip: {raw[:60]!r} is not an IP address") from exc


def _ip24(raw: str) -> str:
    try:
        network = ipaddress.ip_network(raw if "/" in raw else f"{raw}/24", strict=False)
    except ValueError as exc:
        raise RiskInputError(f"ip24: {raw[:60]!r} is not an IPv4 address or a /24 network") from exc
    if network.version != 4 or network.prefixlen != 24:
        raise RiskInputError(f"ip24: {raw[:60]!r} is not an IPv4 address or a /24 network")
    return str(network)
