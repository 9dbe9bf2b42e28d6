"""Every page of the app (each GET route without a path parameter, as ``earnloop bench app`` finds
them), opened by a signed-in person in both languages: no serious or critical accessibility violation,
≤ 150 KB transferred, a screenshot saved — the pages the journey does not pass through included."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page

from earnloop.bench.app import app_pages
from tests.browser.conftest import LANGS
from tests.browser.harness import (
    AppServer,
    assert_light,
    check_accessibility,
    page_weight,
    screenshot,
    sign_in,
)

VISITORS = ("/app", "/app/signin", "/app/signup")  # a signed-in person is sent on to the game zone


@pytest.mark.parametrize("lang", LANGS)
def test_every_app_page_is_accessible_light_and_in_the_persons_language(
    page: Page, context: BrowserContext, app_site: AppServer, lang: str
) -> None:
    pages = [path for path in app_pages() if path not in VISITORS]
    assert {"/app/games", "/app/explore", "/app/wallet", "/app/wallet/withdraw"} <= set(pages)
    for path in VISITORS:
        _check(page, path, lang)
    sign_in(context, app_site, f"every-page-{lang.lower()}")
    for path in pages:
        _check(page, path, lang)


def _check(page: Page, path: str, lang: str) -> None:
    name = "page" + path.replace("/", "-")
    weight = page_weight(page, path)
    assert page.url.endswith(path), f"{path} sent the browser to {page.url}"
    assert page.locator("html").get_attribute("lang") == ("zh-Hant-TW" if lang == "zh-TW" else "en")
    assert page.locator("h1").count() == 1, f"{path}: one main heading"
    assert_light(weight, name)
    check_accessibility(page, name)
    screenshot(page, name)
