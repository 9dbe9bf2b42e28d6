"""The browser tests' toolkit: the site served at ``http://localhost:PORT`` on a migrated SQLite database
with a clock the test moves, Debian's Chromium driven by Playwright, a virtual passkey authenticator
(Chrome DevTools' WebAuthn domain), axe-core accessibility checks, screenshots under
``var/screenshots/<lang>/`` and the page weight of a navigation.

WebAuthn refuses IP-address origins: the site is reached by the host name ``localhost``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from playwright.sync_api import BrowserContext, CDPSession, Page, Request, ViewportSize

from earnloop.auth import sessions
from earnloop.auth.service import create_user
from earnloop.config import Settings
from earnloop.db.engine import Database, make_database
from earnloop.db.migrate import upgrade
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import memory_engine, shadowed_default
from earnloop.web.server import create_site
from earnloop.web.session import SESSION_COOKIE
from tests.live_server import free_port, serve

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PAGE_WEIGHT_MAX_BYTES = 150_000  # "every app page is ≤ 150 KB transferred"
BLOCKING_IMPACTS = ("serious", "critical")
ADMIN_TOKEN = "browser-admin-token-0123456789abcdef"
PHONE: ViewportSize = {"width": 390, "height": 844}  # mobile first: the screenshots are a phone's
HTML_LANG_TO_TAG = {"en": "en", "zh-Hant-TW": "zh-TW"}


@dataclass(frozen=True)
class AppServer:
    """The served site and what a test needs beside the browser: its database and clock (advance it,
    then run the worker's sweeps on ``db`` with ``app.state.ctx.ledger``)."""

    base_url: str
    app: FastAPI
    db: Database
    clock: ManualClock
    settings: Settings

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def ledger(self) -> LedgerService:
        """The site's ledger (on :attr:`clock`): pass it to the worker's sweeps."""
        ledger: LedgerService = self.app.state.ctx.ledger
        return ledger

    def new_session(self, handle: str) -> tuple[int, str]:
        """A new user ``handle`` with a live session: ``(user_id, session token)``."""
        with self.db.uow() as conn:
            user_id = create_user(conn, handle).id
            return user_id, sessions.start_session(conn, user_id)


def sign_in(context: BrowserContext, site: AppServer, handle: str) -> int:
    """A new user ``handle`` signed in in ``context`` (its session cookie set): the shortcut for tests
    about something else than signing in. Returns the user id."""
    user_id, token = site.new_session(handle)
    context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": site.base_url}])
    return user_id


def webauthn_settings(port: int) -> dict[str, Any]:
    """The passkey relying party of a site at ``http://localhost:PORT`` (when Settings has those fields)."""
    if "webauthn_origins" not in Settings.model_fields:
        return {}
    return {"webauthn_rp_id": "localhost", "webauthn_origins": [f"http://localhost:{port}"]}


@contextmanager
def app_server(folder: Path) -> Iterator[AppServer]:
    """``create_site`` on a new migrated SQLite database in ``folder``, served at http://localhost:PORT,
    on a :class:`ManualClock` and the allow-all risk engine (the default strategy in shadow)."""
    url = f"sqlite:///{folder / 'app.db'}"
    db = make_database(url, pool_size=4)
    upgrade(db)
    clock = ManualClock()
    port = free_port()
    settings = Settings(database_url=url, admin_token=ADMIN_TOKEN, **webauthn_settings(port))
    app = create_site(settings, db=db, clock=clock, risk=memory_engine(strategies=shadowed_default))
    try:
        with serve(app, port=port) as base_url:
            yield AppServer(base_url.replace("127.0.0.1", "localhost"), app, db, clock, settings)
    finally:
        db.dispose()


# -- passkeys -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VirtualAuthenticator:
    """A platform authenticator (fingerprint/face) that always verifies the user, attached to one page."""

    cdp: CDPSession
    authenticator_id: str

    def credentials(self) -> list[dict[str, Any]]:
        """Its credentials as DevTools reports them (``credentialId``, ``rpId``, ``signCount``, …)."""
        found: list[dict[str, Any]] = self.cdp.send(
            "WebAuthn.getCredentials", {"authenticatorId": self.authenticator_id}
        )["credentials"]
        return found

    def sign_count(self) -> int:
        """The sign count of its only credential."""
        (credential,) = self.credentials()
        return int(credential["signCount"])

    def remove(self) -> None:
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": self.authenticator_id})


def virtual_authenticator(page: Page) -> VirtualAuthenticator:
    """Attach a CTAP2 internal authenticator with resident keys and user verification to ``page``."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    return VirtualAuthenticator(cdp, str(added["authenticatorId"]))


# -- accessibility, screenshots, weight ---------------------------------------------------------------
def check_accessibility(page: Page, name: str) -> None:
    """Run the vendored axe-core on the page; fail on any serious or critical violation."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    blocking = [v for v in results["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    if blocking:
        raise AssertionError(f"accessibility of {name} ({page.url}):\n" + describe_violations(blocking))


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        targets = [json.dumps(node["target"]) for node in violation["nodes"][:5]]
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']} — {', '.join(targets)}"
        )
    return "\n".join(lines)


def page_lang(page: Page) -> str:
    """The language tag (``en``, ``zh-TW``) of the page shown, from ``<html lang>``."""
    html_lang = str(page.evaluate("() => document.documentElement.lang"))
    return HTML_LANG_TO_TAG.get(html_lang, html_lang or "unknown")


def screenshot(page: Page, name: str, lang: str | None = None) -> Path:
    """Save a full-page PNG at ``var/screenshots/<lang>/<name>.png`` (the CI artifacts)."""
    path = SCREENSHOTS / (lang or page_lang(page)) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


@dataclass
class PageWeight:
    """What one navigation transferred: every request's response headers and (encoded) body."""

    requests: list[Request] = field(default_factory=list)

    @property
    def by_url(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for request in self.requests:
            measured = request.sizes()
            sizes[request.url] = measured["responseHeadersSize"] + measured["responseBodySize"]
        return sizes

    @property
    def total_bytes(self) -> int:
        return sum(self.by_url.values())


def page_weight(page: Page, path: str) -> PageWeight:
    """Load ``path`` with the browser's cache off and measure what it transferred, the page and every
    resource it loaded (stylesheet, scripts, images). The DevTools session stays attached: detaching
    one stops the page's virtual authenticator from answering."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    weight = PageWeight()

    def finished(request: Request) -> None:
        weight.requests.append(request)

    page.on("requestfinished", finished)
    try:
        page.goto(path, wait_until="load")
        page.wait_for_load_state("networkidle")
    finally:
        page.remove_listener("requestfinished", finished)
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
    return weight


def assert_light(weight: PageWeight, name: str) -> None:
    """At most :data:`PAGE_WEIGHT_MAX_BYTES` transferred (the message lists what was loaded)."""
    total = weight.total_bytes
    assert total <= PAGE_WEIGHT_MAX_BYTES, f"{name} transferred {total} bytes: {weight.by_url}"
