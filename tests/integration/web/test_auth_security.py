"""Security of the app's accounts: the sign-in rate limit holds (even the right password is refused
while it does, across server processes since it is kept in the database), CSRF missing or wrong → 403
and nothing done, session fixation impossible, and the API's bearer tokens untouched by the CSRF check."""

from __future__ import annotations

import httpx
import pytest

from earnloop.auth import passwords, sessions
from earnloop.auth import service as auth
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.web.session import SESSION_COOKIE
from tests.conftest import ADMIN_TOKEN
from tests.integration.web.auth_forms import PASSWORD, post_form, sign_in, sign_up, signed_in_as
from tests.integration.web.conftest import csrf_token


def _user(db: Database, handle: str) -> int:
    with db.engine.begin() as conn:
        return passwords.sign_up(conn, handle, PASSWORD)


def _fail(http: httpx.Client, handle: str, times: int) -> None:
    for _ in range(times):
        assert sign_in(http, handle, "not the password").status_code == 400


def test_after_five_failures_even_the_right_password_is_refused_until_the_window_passes(
    browser_client: httpx.Client, db: Database, clock: ManualClock
) -> None:
    _user(db, "target")
    _user(db, "neighbour")
    _fail(browser_client, "target", 5)

    refused = sign_in(browser_client, "target", PASSWORD)
    assert refused.status_code == 429
    assert "Too many attempts. Try again in 15 minutes." in refused.text
    assert refused.headers["retry-after"] == "900"
    assert 'value="target"' in refused.text
    assert signed_in_as(browser_client) is None

    with httpx.Client(base_url=str(browser_client.base_url)) as other:  # same address, another handle
        assert sign_in(other, "neighbour").status_code == 303
        assert signed_in_as(other) == "neighbour"

    clock.advance(seconds=10 * 60)
    assert "Try again in 5 minutes." in sign_in(browser_client, "target", PASSWORD).text
    clock.advance(seconds=5 * 60)
    assert sign_in(browser_client, "target", PASSWORD).status_code == 303
    assert signed_in_as(browser_client) == "target"


def test_a_success_does_not_erase_the_failures_before_it(browser_client: httpx.Client, db: Database) -> None:
    _user(db, "owner")
    _fail(browser_client, "owner", 4)
    with httpx.Client(base_url=str(browser_client.base_url)) as owner:
        assert sign_in(owner, "owner").status_code == 303
    _fail(browser_client, "owner", 1)
    assert sign_in(browser_client, "owner", PASSWORD).status_code == 429


def test_twenty_failures_from_one_address_lock_every_handle_from_it(
    browser_client: httpx.Client, db: Database
) -> None:
    _user(db, "innocent")
    for number in range(20):
        _fail(browser_client, f"guess-{number}", 1)
    refused = sign_in(browser_client, "innocent", PASSWORD)
    assert refused.status_code == 429
    assert signed_in_as(browser_client) is None


def test_the_limit_is_in_the_database_shared_by_every_server(db: Database) -> None:
    from earnloop.auth import sign_in_limits

    with db.engine.begin() as conn:
        for _ in range(5):
            sign_in_limits.begin_attempt(conn, "shared", "10.0.0.1", now_ns=1_000)
    with db.engine.begin() as conn, pytest.raises(sign_in_limits.TooManyAttemptsError) as refused:
        sign_in_limits.begin_attempt(conn, "shared", "10.0.0.2", now_ns=2_000)
    assert refused.value.minutes == 15
    with db.engine.begin() as conn:  # the window passed: taken again
        sign_in_limits.begin_attempt(conn, "shared", "10.0.0.2", now_ns=1_000 + sign_in_limits.WINDOW_NS)


@pytest.mark.parametrize("token", [None, "", "wrong-token", "InR3byI.not-signed-by-us"])
def test_a_form_without_the_right_csrf_token_is_refused_and_nothing_happens(
    browser_client: httpx.Client, token: str | None
) -> None:
    sign_up(browser_client, "csrf-victim")
    data = {} if token is None else {"csrftoken": token}
    refused = browser_client.post("/app/signout-everywhere", data=data)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "Form not accepted" in refused.text
    assert signed_in_as(browser_client) == "csrf-victim"  # not signed out


def test_a_form_posted_without_any_cookie_is_refused(site: str, db: Database) -> None:
    _user(db, "login-csrf")
    with httpx.Client(base_url=site) as attacker_page:
        forged = attacker_page.post("/app/signin", data={"handle": "login-csrf", "password": PASSWORD})
        assert forged.status_code == 403
        assert SESSION_COOKIE not in forged.cookies


def test_the_token_of_another_browser_does_not_pass(browser_client: httpx.Client) -> None:
    sign_up(browser_client, "mine")
    with httpx.Client(base_url=str(browser_client.base_url)) as attacker:
        theirs = csrf_token(attacker)
    assert theirs != csrf_token(browser_client)
    refused = browser_client.post("/app/signout", data={"csrftoken": theirs})
    assert refused.status_code == 403
    assert signed_in_as(browser_client) == "mine"


def test_htmx_may_send_the_token_in_a_header(browser_client: httpx.Client) -> None:
    sign_up(browser_client, "htmx-user")
    signed_out = browser_client.post("/app/signout", headers={"X-CSRFToken": csrf_token(browser_client)})
    assert signed_out.status_code == 303
    assert signed_in_as(browser_client) is None


def test_a_session_cookie_planted_before_sign_in_never_becomes_signed_in(
    browser_client: httpx.Client, db: Database
) -> None:
    _user(db, "fixated")
    planted = "s_" + "A" * 43
    browser_client.cookies.set(SESSION_COOKIE, planted)
    signed = sign_in(browser_client, "fixated")
    assert signed.status_code == 303
    issued = signed.cookies[SESSION_COOKIE]
    assert issued != planted
    with httpx.Client(base_url=str(browser_client.base_url), cookies={SESSION_COOKIE: planted}) as attacker:
        assert signed_in_as(attacker) is None
    assert signed_in_as(browser_client) == "fixated"


def test_signing_in_ends_the_session_the_browser_carried(browser_client: httpx.Client, db: Database) -> None:
    user_id = _user(db, "switcher")
    with db.engine.begin() as conn:
        old = sessions.start_session(conn, user_id)
    browser_client.cookies.set(SESSION_COOKIE, old)
    assert signed_in_as(browser_client) == "switcher"
    post = sign_in(browser_client, "switcher")
    assert post.status_code == 303
    assert post.cookies[SESSION_COOKIE] != old
    with db.engine.connect() as conn:
        assert sessions.session_user(conn, old) is None


def test_api_requests_with_a_bearer_token_are_not_csrf_checked(
    browser_client: httpx.Client, db: Database
) -> None:
    with db.engine.begin() as conn:
        api_user = auth.create_user(conn, "api-user")
    sign_up(browser_client, "cookie-user")  # the client now carries the session and CSRF cookies
    bearer = {"Authorization": f"Bearer {api_user.secret}"}
    opened = browser_client.post("/v1/me/wallets/TWD", headers=bearer)
    assert opened.status_code == 200, opened.text
    assert browser_client.get("/v1/me/wallets/TWD", headers=bearer).status_code == 200
    assert "set-cookie" not in opened.headers  # the API is not touched by the app's cookies


def test_app_pages_keep_their_route_in_the_request_metrics(browser_client: httpx.Client) -> None:
    browser_client.get("/app/signin")
    post_form(browser_client, "/app/signout")
    metrics = browser_client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).text
    assert 'route="/app/signin",status="200"' in metrics
    assert 'route="/app/signout",status="303"' in metrics
