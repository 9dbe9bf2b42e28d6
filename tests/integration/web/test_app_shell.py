"""The app's shell: the welcome page in both languages, the language switch, vendored htmx served from
the package, and signed-in pages sending everyone else to sign in."""

from __future__ import annotations

import httpx

from tests.integration.web.conftest import SignIn, csrf_token


def test_welcome_page_is_english_by_default_and_traditional_chinese_for_a_taiwan_browser(
    browser_client: httpx.Client,
) -> None:
    english = browser_client.get("/app")
    assert english.status_code == 200
    assert '<html lang="en">' in english.text
    assert "Create an account" in english.text
    chinese = browser_client.get("/app", headers={"Accept-Language": "zh-TW,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh-Hant-TW">' in chinese.text
    assert "建立帳號" in chinese.text
    assert "Create an account" not in chinese.text


def test_the_language_switch_is_kept_in_a_cookie_and_goes_back_to_the_page(
    browser_client: httpx.Client,
) -> None:
    token = csrf_token(browser_client)
    switched = browser_client.post(
        "/app/language", data={"lang": "zh-TW", "back": "/app", "csrftoken": token}
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == "/app"
    assert "建立帳號" in browser_client.get("/app", headers={"Accept-Language": "en"}).text
    elsewhere = browser_client.post(
        "/app/language", data={"lang": "en", "back": "https://evil.example/", "csrftoken": token}
    )
    assert elsewhere.headers["location"] == "/app"


def test_htmx_is_served_from_the_package_with_its_licence_beside_it(browser_client: httpx.Client) -> None:
    script = browser_client.get("/app/static/vendor/htmx-2.0.11/htmx.min.js")
    assert script.status_code == 200
    assert "htmx" in script.text[:2000]
    assert "Zero-Clause BSD" in browser_client.get("/app/static/vendor/htmx-2.0.11/LICENSE").text


def test_a_signed_in_user_goes_from_the_front_door_to_the_game_zone(
    browser_client: httpx.Client, sign_in: SignIn
) -> None:
    assert browser_client.get("/").headers["location"] == "/app"
    sign_in(browser_client, "shell-user")
    assert browser_client.get("/app").headers["location"] == "/app/games"


def test_a_stale_session_cookie_is_treated_as_signed_out(browser_client: httpx.Client) -> None:
    browser_client.cookies.set("earnloop_session", "s_not-a-session")
    assert browser_client.get("/app").status_code == 200  # the welcome page, not an error
