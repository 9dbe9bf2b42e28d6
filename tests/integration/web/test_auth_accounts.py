"""Accounts of the app: sign up and be signed in, sign in with a password (and go back where one was
going), errors shown on the form with the typed handle and never the password, sign-out of this session
and of every session."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from earnloop.auth.models import users
from earnloop.db.engine import Database
from earnloop.web.session import SESSION_COOKIE
from tests.integration.web.auth_forms import PASSWORD, post_form, sign_in, sign_up, signed_in_as


def _users(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def test_a_new_user_signs_up_is_signed_in_and_sees_the_account_page(browser_client: httpx.Client) -> None:
    form = browser_client.get("/app/signup")
    assert form.status_code == 200
    hidden = re.search(r'name="csrftoken" value="([^"]+)"', form.text)
    assert hidden is not None
    assert hidden.group(1) == browser_client.cookies["csrftoken"]

    created = sign_up(browser_client, "new-user")
    assert created.status_code == 303
    assert created.headers["location"] == "/app"
    cookie = next(c for c in created.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "="))
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/", "max-age=1209600"} <= attributes
    assert "secure" not in attributes  # plain http in development

    account = browser_client.get("/app/account")
    assert account.status_code == 200
    assert "Signed in as new-user" in account.text
    assert 'action="/app/signout"' in account.text
    assert 'action="/app/signout-everywhere"' in account.text
    assert 'href="/app/account/passkeys"' in account.text


@pytest.mark.parametrize(
    ("handle", "password", "message"),
    [
        ("short-pass", "abc123", "A password has 10 to 128 characters."),
        ("long-pass", "x1" * 65, "A password has 10 to 128 characters."),
        ("same-char", "a" * 12, "A password cannot be one character repeated."),
        ("No Spaces!", PASSWORD, "A handle has 3 to 64 characters"),
    ],
)
def test_a_refused_sign_up_shows_why_keeps_the_handle_and_creates_nobody(
    browser_client: httpx.Client, db: Database, handle: str, password: str, message: str
) -> None:
    refused = sign_up(browser_client, handle, password)
    assert refused.status_code == 422
    assert message in refused.text
    assert f'value="{handle.lower()}"' in refused.text
    assert password not in refused.text
    assert SESSION_COOKIE not in refused.cookies
    assert _users(db) == 0


def test_a_taken_handle_is_refused(browser_client: httpx.Client, db: Database) -> None:
    assert sign_up(browser_client, "taken-name").status_code == 303
    with httpx.Client(base_url=str(browser_client.base_url)) as other:
        again = sign_up(other, "Taken-Name", "another password 42")
        assert again.status_code == 422
        assert "This handle is taken" in again.text
        assert signed_in_as(other) is None
    assert _users(db) == 1


def test_sign_in_with_the_right_password_goes_back_where_the_user_was_going(
    browser_client: httpx.Client,
) -> None:
    sign_up(browser_client, "returning")
    post_form(browser_client, "/app/signout")
    assert signed_in_as(browser_client) is None

    sent_away = browser_client.get("/app/account")
    assert sent_away.headers["location"] == "/app/signin?next=/app/account"
    form = browser_client.get(sent_away.headers["location"])
    assert 'name="next" value="/app/account"' in form.text
    signed = sign_in(browser_client, "returning", next="/app/account")
    assert signed.status_code == 303
    assert signed.headers["location"] == "/app/account"
    assert signed_in_as(browser_client) == "returning"


@pytest.mark.parametrize("target", ["https://evil.example/app", "//evil.example/app", "/app//evil", "/other"])
def test_sign_in_never_sends_the_user_off_the_app(browser_client: httpx.Client, target: str) -> None:
    sign_up(browser_client, "careful")
    post_form(browser_client, "/app/signout")
    assert sign_in(browser_client, "careful", next=target).headers["location"] == "/app"


def test_a_wrong_password_or_unknown_handle_signs_nobody_in(browser_client: httpx.Client) -> None:
    sign_up(browser_client, "owner")
    post_form(browser_client, "/app/signout")
    for handle, password in [("owner", "wrong password 1"), ("nobody-here", PASSWORD)]:
        refused = sign_in(browser_client, handle, password)
        assert refused.status_code == 400
        assert "That handle and password do not match" in refused.text
        assert f'value="{handle}"' in refused.text
        assert password not in refused.text
        assert signed_in_as(browser_client) is None
    empty = sign_in(browser_client, "owner", "")
    assert empty.status_code == 400
    assert "Enter your handle and your password." in empty.text


def test_a_refused_form_is_shown_in_traditional_chinese(browser_client: httpx.Client) -> None:
    browser_client.headers["Accept-Language"] = "zh-TW"
    refused = sign_up(browser_client, "zh-user", "short")
    assert refused.status_code == 422
    assert '<html lang="zh-Hant-TW">' in refused.text
    assert "A password has" not in refused.text


def test_sign_out_ends_only_this_session(browser_client: httpx.Client) -> None:
    sign_up(browser_client, "two-devices")
    with httpx.Client(base_url=str(browser_client.base_url)) as phone:
        sign_in(phone, "two-devices")
        assert signed_in_as(phone) == "two-devices"
        signed_out = post_form(browser_client, "/app/signout")
        assert signed_out.status_code == 303
        assert signed_out.headers["location"] == "/app"
        assert signed_in_as(browser_client) is None
        assert signed_in_as(phone) == "two-devices"


def test_sign_out_everywhere_ends_every_session_of_the_user(browser_client: httpx.Client) -> None:
    sign_up(browser_client, "lost-phone")
    base = str(browser_client.base_url)
    with httpx.Client(base_url=base) as phone, httpx.Client(base_url=base) as someone_else:
        sign_in(phone, "lost-phone")
        sign_up(someone_else, "bystander")
        ended = post_form(browser_client, "/app/signout-everywhere")
        assert ended.status_code == 303
        assert signed_in_as(browser_client) is None
        assert signed_in_as(phone) is None
        assert signed_in_as(someone_else) == "bystander"
