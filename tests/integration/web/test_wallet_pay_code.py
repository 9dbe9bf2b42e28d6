"""Fingerprint pay with a pay code: the code pays up to the amount the user asked for ("Up to"; empty:
the passkey threshold). A code up to the threshold is shown at once; a larger one only after the
user's passkey confirms it, and then on the same page, with its cap. A store charging more than the
cap is refused and the code stays usable; the code is shown only to its owner, only while active."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine
from earnloop.wallet.pay import service as pay
from earnloop.wallet.pay.models import pay_codes
from tests.conftest import DbTarget
from tests.integration.web.conftest import SignIn, csrf_token, passkey_site_settings
from tests.integration.web.soft_authenticator import SoftAuthenticator
from tests.integration.web.test_passkeys import add_passkey, confirmation_page
from tests.integration.web.test_wallet_pages import FUNDS, available, fund, hidden_fields, partner

THRESHOLD = 50_000  # NT$500.00
CODE_PAGE = re.compile(r"^/app/wallet/pay/code/[0-9]+$")


@pytest.fixture
def site_settings(db_target: DbTarget) -> Settings:
    return passkey_site_settings(db_target, THRESHOLD)


def _ask_for_code(http: httpx.Client, limit: str, **headers: str) -> httpx.Response:
    fields = hidden_fields(http.get("/app/wallet/pay"), "/app/wallet/pay/code")
    return http.post(
        "/app/wallet/pay/code", data=fields | {"currency": "TWD", "limit": limit}, headers=headers
    )


def _code_on(page: httpx.Response) -> str:
    digits = re.search(r'class="amount code-digits">([0-9 ]+)<', page.text)
    assert digits is not None, page.text
    return digits.group(1).replace(" ", "")


def _codes_of(db: Database, user_id: int) -> int:
    with db.uow(write=False) as conn:
        counted = select(func.count()).select_from(pay_codes).where(pay_codes.c.user_id == user_id)
        return int(conn.execute(counted).scalar_one())


def _charge(db: Database, ledger: LedgerService, risk: RiskEngine, shop: int, code: str, amount: int) -> None:
    with db.uow() as conn:
        pay.charge_pay_code(
            conn,
            ledger,
            idempotency_key=f"till-{amount}",
            merchant_id=shop,
            code=code,
            merchant_order_id=f"till-{amount}",
            amount=amount,
            risk=risk,
        )


def test_a_code_up_to_the_threshold_is_shown_at_once_with_its_cap(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService
) -> None:
    user_id = sign_in(browser_client, "code-small")
    fund(db, ledger, user_id)
    form = browser_client.get("/app/wallet/pay")
    assert '<label for="code-limit">Up to</label>' in form.text
    assert "Left empty: up to NT$500.00." in form.text
    default = _ask_for_code(browser_client, "")
    assert default.status_code == 303
    assert CODE_PAGE.match(default.headers["location"])
    shown = browser_client.get(default.headers["location"])
    assert shown.headers["cache-control"] == "no-store"
    assert "Pays up to NT$500.00" in shown.text
    assert len(_code_on(shown)) == pay.PAY_CODE_DIGITS
    smaller = browser_client.get(_ask_for_code(browser_client, "120.50").headers["location"])
    assert "Pays up to NT$120.50" in smaller.text
    assert _code_on(smaller) != _code_on(shown)
    fragment = browser_client.get(default.headers["location"], headers={"HX-Request": "true"})
    assert _code_on(shown) not in fragment.text  # the polled status never carries the code
    chinese = browser_client.get(default.headers["location"], headers={"Accept-Language": "zh-TW"})
    assert "最多支付 $500.00" in chinese.text  # Babel's zh-TW for NT$


def test_a_larger_code_waits_for_the_passkey_and_a_store_cannot_charge_beyond_it(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService, risk: RiskEngine
) -> None:
    user_id = sign_in(browser_client, "code-large")
    fund(db, ledger, user_id)
    device = SoftAuthenticator()
    add_passkey(browser_client, device)
    asked = _ask_for_code(browser_client, "800")
    assert "Pay code for up to NT$800.00" in asked.text
    confirm_url, options = confirmation_page(asked)
    assert _codes_of(db, user_id) == 0  # nothing issued while asking
    csrf = {"X-CSRFToken": csrf_token(browser_client)}  # what passkey.js sends
    done = browser_client.post(confirm_url, json=device.get(options), headers=csrf)
    assert done.status_code == 200, done.text
    page_url = done.json()["redirect"]
    assert CODE_PAGE.match(page_url)
    shown = browser_client.get(page_url)
    assert "Pays up to NT$800.00" in shown.text
    code = _code_on(shown)
    assert browser_client.post(confirm_url, json=device.get(options), headers=csrf).status_code == 409
    assert _codes_of(db, user_id) == 1
    shop = partner(db, "merchant")
    with pytest.raises(pay.PayCodeLimitError, match="pays up to"):
        _charge(db, ledger, risk, shop, code, 80_001)
    assert available(db, ledger, user_id) == FUNDS
    assert _code_on(browser_client.get(page_url)) == code  # still active: a smaller charge works
    _charge(db, ledger, risk, shop, code, 80_000)
    assert available(db, ledger, user_id) == FUNDS - 80_000
    used = browser_client.get(page_url)
    assert "Paid: NT$800.00 at Merchant" in used.text
    assert code not in used.text  # a used code is not shown again


def test_a_larger_code_without_a_passkey_or_a_bad_amount_issues_nothing(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService
) -> None:
    user_id = sign_in(browser_client, "code-nokey")
    fund(db, ledger, user_id)
    refused = _ask_for_code(browser_client, "800")
    assert refused.status_code == 403
    assert "/app/account/passkeys" in refused.text
    bad = _ask_for_code(browser_client, "12.345")
    assert bad.status_code == 422
    assert "That amount has more decimals than the currency allows." in bad.text
    assert _codes_of(db, user_id) == 0


def test_only_its_owner_sees_a_code(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService, site: str
) -> None:
    user_id = sign_in(browser_client, "code-owner")
    fund(db, ledger, user_id)
    page_url = _ask_for_code(browser_client, "").headers["location"]
    code = _code_on(browser_client.get(page_url))
    with httpx.Client(base_url=site, timeout=30) as other:
        sign_in(other, "code-snoop")
        seen = other.get(page_url)
    assert seen.status_code == 404
    assert code not in seen.text
