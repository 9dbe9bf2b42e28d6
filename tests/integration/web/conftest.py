"""Fixtures of the app's tests: the site (API + app) served on the test database, and signed-in clients.

Every form under ``/app`` is CSRF-checked (``earnloop.web.csrf``): a test that POSTs a form sends the
token the app gave the client, ``csrf_token(client)`` — e.g.
``client.post("/app/signout", data={"csrftoken": csrf_token(client)})`` — or the same value in the
``X-CSRFToken`` header (what htmx requests may do). ``sign_in(client, handle)`` makes a user with a live
session without going through the password form (which ``test_auth_*`` test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from earnloop.auth import service as auth
from earnloop.auth import sessions
from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.risk.engine import RiskEngine
from earnloop.web.csrf import CSRF_COOKIE
from earnloop.web.server import create_site
from earnloop.web.session import SESSION_COOKIE
from tests.conftest import ADMIN_TOKEN, DbTarget
from tests.integration.web.soft_authenticator import ORIGIN, RP_ID
from tests.live_server import serve


@pytest.fixture
def site_settings(db_target: DbTarget) -> Settings:
    """The site's settings (a test module overrides this fixture to change one, e.g. the passkey
    threshold)."""
    return Settings(database_url=db_target.url, admin_token=ADMIN_TOKEN)


def passkey_site_settings(db_target: DbTarget, threshold: int) -> Settings:
    """Settings of a site whose passkeys the software authenticator (``soft_authenticator``) can use,
    asking for one above ``threshold`` minor units — what a module's ``site_settings`` returns."""
    return Settings(
        database_url=db_target.url,
        admin_token=ADMIN_TOKEN,
        webauthn_rp_id=RP_ID,
        webauthn_origins=[ORIGIN],
        passkey_threshold=threshold,
    )


@pytest.fixture
def site(db: Database, site_settings: Settings, clock: ManualClock, risk: RiskEngine) -> Iterator[str]:
    """The base URL of a real server running the API and the app on the test database."""
    app = create_site(site_settings, db=db, clock=clock, risk=risk)
    with serve(app) as base_url:
        yield base_url


@pytest.fixture
def browser_client(site: str) -> Iterator[httpx.Client]:
    """A client that keeps cookies and does not follow redirects (tests look at them)."""
    with httpx.Client(base_url=site, timeout=30, follow_redirects=False) as http:
        yield http


SignIn = Callable[[httpx.Client, str], int]


@pytest.fixture
def sign_in(db: Database) -> SignIn:
    """``sign_in(client, handle)``: a new user with a live session whose cookie the client now carries
    (the password sign-in itself is tested in ``test_auth_*``); returns the user id."""

    def _sign_in(http: httpx.Client, handle: str) -> int:
        with db.engine.begin() as conn:
            user_id = auth.create_user(conn, handle).id
            token = sessions.start_session(conn, user_id)
        http.cookies.set(SESSION_COOKIE, token)
        return user_id

    return _sign_in


def csrf_token(http: httpx.Client) -> str:
    """The CSRF token the app gave ``http`` (its ``csrftoken`` cookie; a first visit to ``/app`` sets it):
    what a form's hidden ``csrftoken`` field carries."""
    token = http.cookies.get(CSRF_COOKIE)
    if token is None:
        http.get("/app")
        token = http.cookies.get(CSRF_COOKIE)
    assert token, "the app set no csrftoken cookie"
    return token
