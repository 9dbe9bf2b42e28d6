"""Rendering a page: the Jinja2 environment (autoescaped, ``_``/``ngettext`` from the request's catalog,
money and dates by Babel) and :func:`render`, which every page calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from earnloop.config import Settings
from earnloop.web import i18n

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_PREFIX = "/app/static"
CSRF_FIELD = "csrftoken"

environment = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


def _gettext_for(lang: str) -> tuple[Callable[..., str], Callable[..., str]]:
    """``_`` and ``ngettext`` of a language: translated, then ``%(name)s`` filled with escaped values."""
    catalog = i18n.translations(lang)

    def gettext(message: str, **variables: object) -> str:
        return _fill(catalog.gettext(message), variables)

    def ngettext(singular: str, plural: str, count: int, **variables: object) -> str:
        return _fill(catalog.ngettext(singular, plural, count), {"num": count, **variables})

    return gettext, ngettext


def _fill(translated: str, variables: Mapping[str, object]) -> str:
    if not variables:
        return translated
    # the translated text is ours (the catalog); every value filled in is escaped
    return Markup(escape(translated) % {key: escape(value) for key, value in variables.items()})  # noqa: S704


def csrf_input(request: Request) -> Markup:
    """The hidden field every form carries (the CSRF middleware checks it against its cookie)."""
    token_of = request.scope.get(CSRF_FIELD)
    token = token_of() if callable(token_of) else ""
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


def page_context(request: Request) -> dict[str, Any]:
    """What every template may use: the language and its formatting, the CSRF field, the signed-in user."""
    lang = i18n.negotiate(request)
    gettext, ngettext = _gettext_for(lang)
    zone = _display_zone(request)
    return {
        "request": request,
        "lang": lang,
        "html_lang": "zh-Hant-TW" if lang == "zh-TW" else "en",
        "languages": i18n.LANGUAGE_NAMES,
        "_": gettext,
        "gettext": gettext,
        "ngettext": ngettext,
        "money": lambda amount, code: i18n.money(amount, code, lang),
        "date": lambda at_ns: i18n.date_of_ns(at_ns, lang, zone),
        "datetime": lambda at_ns: i18n.datetime_of_ns(at_ns, lang, zone),
        "csrf_input": lambda: csrf_input(request),
        "static": lambda path: f"{STATIC_PREFIX}/{path}",
        "user": request.scope.get("earnloop.web_user"),
    }


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _display_zone(request: Request) -> ZoneInfo:
    """The time zone dates are shown in (``EARNLOOP_APP_TIMEZONE``)."""
    settings: Settings = request.app.state.ctx.settings
    return _zone(settings.app_timezone)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The page ``template`` rendered for ``request``; an htmx request (``HX-Request``) gets the same
    template (pages render a fragment themselves when they check ``htmx``)."""
    values = page_context(request)
    values["htmx"] = request.headers.get("hx-request") == "true"
    values.update(context or {})
    body = environment.get_template(template).render(values)
    return HTMLResponse(body, status_code=status_code, headers=dict(headers or {}))
