"""The app's shell in a real browser: the welcome page in English and Traditional Chinese (from the
browser's language), the language switch, no serious accessibility violation, a light page — and a
passkey made and used on the site's origin by a virtual authenticator (Chromium's WebAuthn works here)."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import LANGS
from tests.browser.harness import (
    SCREENSHOTS,
    AppServer,
    assert_light,
    check_accessibility,
    page_weight,
    screenshot,
    sign_in,
    virtual_authenticator,
)

WELCOME = {
    "en": ("en", "Create an account", "Play, shop and scan receipts. Get cashback."),
    "zh-TW": ("zh-Hant-TW", "建立帳號", None),
}


@pytest.mark.parametrize("lang", LANGS)
def test_the_welcome_page_speaks_the_browsers_language_is_accessible_and_light(page: Page, lang: str) -> None:
    html_lang, create_account, heading = WELCOME[lang]
    weight = page_weight(page, "/app")
    expect(page.locator("html")).to_have_attribute("lang", html_lang)
    expect(page.get_by_role("link", name=create_account)).to_be_visible()
    if heading is not None:
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    check_accessibility(page, f"welcome ({lang})")
    assert_light(weight, f"welcome ({lang})")
    assert any(url.endswith("htmx.min.js") for url in weight.by_url)  # its scripts were counted too
    assert screenshot(page, "welcome") == SCREENSHOTS / lang / "welcome.png"
    assert (SCREENSHOTS / lang / "welcome.png").stat().st_size > 0


def test_the_language_switch_changes_the_page_and_is_remembered(page: Page) -> None:
    page.goto("/app")
    page.get_by_label("Language").select_option("zh-TW")
    page.get_by_role("button", name="Change").click()
    expect(page.get_by_role("link", name="建立帳號")).to_be_visible()
    page.goto("/app")  # the browser still asks for English: the choice is kept
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant-TW")
    screenshot(page, "language-switched")
    page.get_by_label("語言").select_option("en")
    page.locator("form.lang button[type=submit]").click()
    expect(page.get_by_role("link", name="Create an account")).to_be_visible()


CREATE_PASSKEY = """async () => {
  const credential = await navigator.credentials.create({publicKey: {
    challenge: crypto.getRandomValues(new Uint8Array(32)),
    rp: {id: "localhost", name: "earnloop"},
    user: {id: new Uint8Array([1, 2, 3, 4]), name: "probe", displayName: "Probe"},
    pubKeyCredParams: [{type: "public-key", alg: -7}],
    authenticatorSelection: {authenticatorAttachment: "platform", residentKey: "required",
                             userVerification: "required"},
  }});
  return credential.id;
}"""
USE_PASSKEY = """async () => {
  const assertion = await navigator.credentials.get({publicKey: {
    challenge: crypto.getRandomValues(new Uint8Array(32)), rpId: "localhost", userVerification: "required",
  }});
  return assertion.id;
}"""


def test_a_virtual_authenticator_makes_and_uses_a_passkey_on_the_sites_origin(page: Page) -> None:
    page.goto("/app")
    assert page.url.startswith("http://localhost:")
    authenticator = virtual_authenticator(page)
    assert authenticator.credentials() == []
    credential_id = page.evaluate(CREATE_PASSKEY)
    (credential,) = authenticator.credentials()
    assert credential["rpId"] == "localhost"
    assert credential["isResidentCredential"] is True
    before = authenticator.sign_count()
    assert page.evaluate(USE_PASSKEY) == credential_id
    assert authenticator.sign_count() > before


def test_the_accessibility_check_names_each_serious_violation(page: Page) -> None:
    page.set_content('<html lang="en"><body><main><img src="data:,"><input type="text"></main></body></html>')
    with pytest.raises(AssertionError) as failure:
        check_accessibility(page, "a broken page")
    assert "image-alt (critical)" in str(failure.value)
    assert "label (critical)" in str(failure.value)


def test_a_signed_in_browser_is_sent_from_the_front_door_to_the_game_zone(
    context: BrowserContext, page: Page, app_site: AppServer
) -> None:
    sign_in(context, app_site, "shell-browser")
    page.goto("/app")
    assert page.url == app_site.url("/app/games")
