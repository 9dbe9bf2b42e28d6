"""Fingerprint pay on the wallet's own flows: a donation above the passkey threshold moves nothing until
the user's passkey confirms it, then moves it once; without a passkey it moves nothing at all."""

from __future__ import annotations

import httpx
import pytest

from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from tests.conftest import DbTarget
from tests.integration.web.conftest import SignIn, csrf_token, passkey_site_settings
from tests.integration.web.soft_authenticator import SoftAuthenticator
from tests.integration.web.test_passkeys import add_passkey, confirmation_page
from tests.integration.web.test_wallet_pages import FUNDS, available, donate, donation_form, funded_donor

THRESHOLD = 50_000  # NT$500.00


@pytest.fixture
def site_settings(db_target: DbTarget) -> Settings:
    return passkey_site_settings(db_target, THRESHOLD)


def _donate(http: httpx.Client, campaign_id: int, amount: str) -> httpx.Response:
    return donate(http, donation_form(http, campaign_id, amount))


def test_a_large_donation_waits_for_the_passkey_then_moves_once(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    user_id, campaign_id = funded_donor(browser_client, sign_in, "stepup-donor", db, ledger, clock)
    device = SoftAuthenticator()
    add_passkey(browser_client, device)
    small = _donate(browser_client, campaign_id, "100")
    assert small.status_code == 303  # at or below the threshold: no confirmation
    assert available(db, ledger, user_id) == FUNDS - 10_000
    page = _donate(browser_client, campaign_id, "600")
    confirm_url, options = confirmation_page(page)
    csrf = {"X-CSRFToken": csrf_token(browser_client)}  # what passkey.js sends
    assert available(db, ledger, user_id) == FUNDS - 10_000  # nothing moved while asking
    done = browser_client.post(confirm_url, json=device.get(options), headers=csrf)
    assert done.status_code == 200, done.text
    assert done.json()["redirect"].startswith("/app/wallet")
    assert available(db, ledger, user_id) == FUNDS - 70_000
    assert browser_client.post(confirm_url, json=device.get(options), headers=csrf).status_code == 409
    assert available(db, ledger, user_id) == FUNDS - 70_000


def test_a_large_donation_without_a_passkey_moves_nothing(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    user_id, campaign_id = funded_donor(browser_client, sign_in, "stepup-nokey", db, ledger, clock)
    refused = _donate(browser_client, campaign_id, "600")
    assert refused.status_code == 403
    assert "/app/account/passkeys" in refused.text
    assert available(db, ledger, user_id) == FUNDS
