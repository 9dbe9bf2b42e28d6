"""In production the app's cookies are always ``Secure``, and the site does not start without the app
secret that signs its CSRF cookies (every server process must share it)."""

from __future__ import annotations

import httpx
import pytest
from cryptography.fernet import Fernet

from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.risk.engine import RiskEngine
from earnloop.web.csrf import AppSecretError
from earnloop.web.server import create_site
from earnloop.web.session import SESSION_COOKIE
from tests.conftest import ADMIN_TOKEN, DbTarget
from tests.integration.web.auth_forms import PASSWORD
from tests.live_server import serve


def _production(db_target: DbTarget, **overrides: str) -> Settings:
    values = {
        "database_url": db_target.url,
        "admin_token": ADMIN_TOKEN,
        "environment": "production",
        "payout_provider_url": "http://127.0.0.1:9/payouts",
        "einvoice_api_url": "http://127.0.0.1:9/einvoice",
        "einvoice_key": Fernet.generate_key().decode("ascii"),
        "einvoice_app_key": "app-key-for-tests",
        "app_secret": "an-app-secret-of-production-0123456789",
        **overrides,
    }
    return Settings.model_validate(values)


def test_production_refuses_to_start_without_the_app_secret(
    db: Database, db_target: DbTarget, clock: ManualClock, risk: RiskEngine
) -> None:
    settings = _production(db_target)
    settings.app_secret = None
    with pytest.raises(AppSecretError, match="EARNLOOP_APP_SECRET"):
        create_site(settings, db=db, clock=clock, risk=risk)


def test_production_cookies_are_secure_even_behind_plain_http(
    db: Database, db_target: DbTarget, clock: ManualClock, risk: RiskEngine
) -> None:
    app = create_site(_production(db_target), db=db, clock=clock, risk=risk)
    with serve(app) as base_url, httpx.Client(base_url=base_url) as http:
        first = http.get("/app")
        csrf_cookie = next(c for c in first.headers.get_list("set-cookie") if c.startswith("csrftoken="))
        assert "secure" in {part.strip().lower() for part in csrf_cookie.split(";")}
        # a client keeps Secure cookies for https only: send the token back as a browser behind TLS would
        token = csrf_cookie.split(";", 1)[0].split("=", 1)[1]
        form = {"handle": "prod-user", "password": PASSWORD, "csrftoken": token}
        created = httpx.post(f"{base_url}/app/signup", data=form, headers={"Cookie": f"csrftoken={token}"})
        assert created.status_code == 303
        session = next(c for c in created.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
        assert "secure" in {part.strip().lower() for part in session.split(";")}
