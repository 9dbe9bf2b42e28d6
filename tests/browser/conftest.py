"""Fixtures of the browser tests (the toolkit is in ``harness.py``).

Every test under ``tests/browser/`` is marked ``browser`` and put in one xdist group, so that one worker
runs them all and Chromium starts once. Chromium is ``/usr/bin/chromium`` (Debian's; ``.ci/run`` installs
it): missing, the tests skip with the reason — in CI they fail.

- ``browser``: headless Chromium for one test module (see the fixture for why not the session).
- ``app_site``: the site served at http://localhost:PORT on a fresh SQLite database, one per module.
- ``lang``: ``en`` unless a test parametrizes it (``@pytest.mark.parametrize("lang", LANGS)``).
- ``context`` / ``page``: a new phone-sized browser context in that language (locale and
  Accept-Language), its ``base_url`` the site's, so that ``page.goto("/app")`` works.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.browser.harness import CHROMIUM, PHONE, AppServer, app_server
from tests.conftest import require_service

HERE = Path(__file__).parent
LANGS = ("en", "zh-TW")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module. Playwright's sync API runs an event loop on this thread while it
    is open, so it must close before the worker goes on to other tests (``asyncio.run`` fails inside a
    running loop): module scope, not session."""
    if not CHROMIUM.exists():
        require_service("Chromium", FileNotFoundError(f"{CHROMIUM} is missing (apt-get install chromium)"))
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def app_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with app_server(tmp_path_factory.mktemp("browser-site")) as site:
        yield site


@pytest.fixture
def lang() -> str:
    return "en"


@pytest.fixture
def context(browser: Browser, app_site: AppServer, lang: str) -> Iterator[BrowserContext]:
    opened = browser.new_context(base_url=app_site.base_url, locale=lang, viewport=PHONE)
    yield opened
    opened.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
