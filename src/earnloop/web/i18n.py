"""Languages of the app: which one a request gets (a switch kept in a cookie, else the browser's
Accept-Language), its gettext catalog (compiled from the ``.po`` files in ``locale/`` at start-up), and
amounts and dates formatted for it by Babel — never by hand."""

from __future__ import annotations

import gettext
import io
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from starlette.requests import Request

from earnloop.currencies import currency

LOCALE_DIR = Path(__file__).parent / "locale"
LANG_COOKIE = "earnloop_lang"
DEFAULT_LANG = "en"
# language tag (as shown in the switch and kept in the cookie) → its Babel locale and catalog folder
LANGUAGES: dict[str, tuple[Locale, str | None]] = {
    "en": (Locale.parse("en"), None),
    "zh-TW": (Locale.parse("zh_Hant_TW"), "zh_TW"),
}
LANGUAGE_NAMES = {"en": "English", "zh-TW": "繁體中文"}


def negotiate(request: Request) -> str:
    """The request's language: the switch's cookie when it names one we have, else the best match of
    Accept-Language (any ``zh`` of Taiwan, Hong Kong or Traditional script → zh-TW), else English."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for tag in _accepted(request.headers.get("accept-language", "")):
        lowered = tag.lower()
        if lowered.startswith("en"):
            return "en"
        if lowered.startswith("zh") and any(mark in lowered for mark in ("tw", "hk", "mo", "hant")):
            return "zh-TW"
    return DEFAULT_LANG


def _accepted(header: str) -> list[str]:
    """Accept-Language tags, best first (ties keep their order)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English is the source language: no catalog)."""
    folder = LANGUAGES[lang][1]
    if folder is None:
        return gettext.NullTranslations()
    with (LOCALE_DIR / folder / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def babel_locale(lang: str) -> Locale:
    return LANGUAGES[lang][0]


def money(amount_minor: int, currency_code: str, lang: str) -> str:
    """An amount in minor units, formatted for the language (e.g. ``NT$1,234.00`` / ``$1,234.00``)."""
    digits = currency(currency_code).exponent
    amount = Decimal(amount_minor).scaleb(-digits)
    return format_currency(amount, currency_code, locale=babel_locale(lang))


def date_of_ns(at_ns: int, lang: str, zone: tzinfo = UTC) -> str:
    """A date (ns since the epoch) in ``zone`` for the language, e.g. ``Dec 7, 2026`` / ``2026年12月7日``."""
    moment = datetime.fromtimestamp(at_ns / 1e9, tz=zone)
    return format_date(moment, format="medium", locale=babel_locale(lang))


def datetime_of_ns(at_ns: int, lang: str, zone: tzinfo = UTC) -> str:
    """A moment (ns since the epoch) in ``zone`` for the language."""
    moment = datetime.fromtimestamp(at_ns / 1e9, tz=zone)
    return format_datetime(moment, format="medium", tzinfo=zone, locale=babel_locale(lang))
