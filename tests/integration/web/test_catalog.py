"""Every string the app shows has its Traditional Chinese translation: the strings are extracted from
the templates and the app's code as ``make messages`` does, and each must have a msgstr in the catalog."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
WEB = ROOT / "src" / "earnloop" / "web"
CATALOG = WEB / "locale" / "zh_TW" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]


def _extracted() -> set[str]:
    found: set[str] = set()
    for _, _, message, _, _ in extract_from_dir(WEB, METHODS, keywords=KEYWORDS):
        found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found


def test_the_app_has_strings_to_translate() -> None:
    assert {"Sign in", "Wallet", "Games"} <= _extracted()


def test_every_string_of_the_app_is_translated_to_traditional_chinese() -> None:
    with CATALOG.open("rb") as source:
        catalog = read_po(source)
    translated: set[str] = set()
    for m in catalog:
        if m.id and m.string and all(m.string if isinstance(m.string, tuple) else [m.string]):
            translated.update([m.id] if isinstance(m.id, str) else m.id)  # a plural: both of its ids
    missing = sorted(_extracted() - translated)
    assert not missing, f"untranslated in zh-TW (run `make messages`, then fill in): {missing}"
