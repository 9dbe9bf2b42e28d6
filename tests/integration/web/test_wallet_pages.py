"""The wallet pages on a real server and both databases: what a user sees (balances, history, pay
code and QR, orders, deposit holds, withdrawals) and that every form moves money exactly once — a
refused one (not enough money, risk) moves none and says why."""

from __future__ import annotations

import itertools
import re
from html.parser import HTMLParser

import httpx
import pytest
import segno

from earnloop.auth.service import create_partner
from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine, StaticStrategySource, memory_engine
from earnloop.risk.rules import Rule, Strategy, compile_strategy
from earnloop.wallet import service
from earnloop.wallet.donations import service as donations
from earnloop.wallet.holds import service as holds
from earnloop.wallet.pay import service as pay
from earnloop.wallet.withdrawals import service as withdrawals
from tests.conftest import ADMIN_TOKEN, DbTarget
from tests.integration import wallet_support
from tests.integration.web.conftest import SignIn

# Withdrawals of NT$2,000 up to NT$3,000 are held for a review, from NT$3,000 refused; the rest allowed.
BY_AMOUNT = Strategy(
    "wallet-pages-1",
    (
        Rule("refused", 'kind == "withdrawal" && amount >= 300000', "block", 100),
        Rule("held", 'kind == "withdrawal" && amount >= 200000 && amount < 300000', "review", 10),
    ),
)
FUNDS = 100_000  # NT$1,000.00
DAY_NS = 86_400 * 10**9
SEQ = itertools.count()


@pytest.fixture
def site_settings(db_target: DbTarget) -> Settings:
    """Amounts here stay below the passkey threshold: the step-up itself is tested in test_passkeys.py
    and test_wallet_stepup.py."""
    return Settings(database_url=db_target.url, admin_token=ADMIN_TOKEN, passkey_threshold=10_000_000)


@pytest.fixture
def risk() -> RiskEngine:
    return memory_engine(strategies=lambda fields: StaticStrategySource(compile_strategy(BY_AMOUNT, fields)))


class _Forms(HTMLParser):
    """The hidden fields of each form of a page, by the form's action."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, list[dict[str, str]]] = {}
        self._current: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = {}
            self.forms.setdefault(found.get("action", ""), []).append(self._current)
        elif tag == "input" and self._current is not None and found.get("type") == "hidden":
            self._current[found["name"]] = found.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def hidden_fields(page: httpx.Response, action: str) -> dict[str, str]:
    """The hidden fields (CSRF token, form key …) of the page's first form posting to ``action``."""
    parser = _Forms()
    parser.feed(page.text)
    assert action in parser.forms, f"no form to {action} on the page"
    return dict(parser.forms[action][0])


def fund(db: Database, ledger: LedgerService, user_id: int, amount: int = FUNDS) -> None:
    wallet_support.fund(db, ledger, user_id, amount)


def available(db: Database, ledger: LedgerService, user_id: int) -> int:
    with db.uow(write=False) as conn:
        return service.view(conn, ledger, user_id, "TWD").available


def partner(db: Database, kind: str) -> int:
    with db.uow() as conn:
        return create_partner(conn, f"{kind.title()} {next(SEQ)}", kind, "TWD").id


def funded_with_hold(db: Database, ledger: LedgerService, user_id: int, product: str, amount: int) -> str:
    """Funds the user's wallet and has a new store ask for a deposit hold of ``amount`` on ``product``;
    the hold's id."""
    fund(db, ledger, user_id)
    shop = partner(db, "merchant")
    with db.uow() as conn:
        holds.set_policy(conn, product=product, currency_code="TWD", partner_id=shop, amount=amount)
        requested = holds.request_hold(
            conn,
            ledger,
            idempotency_key=f"hold-{product}-{next(SEQ)}",
            merchant_id=shop,
            product=product,
            user_id=user_id,
            currency_code="TWD",
            ref=f"{product}-1",
        )
    return str(requested["hold_id"])


def campaign(
    db: Database, ledger: LedgerService, clock: ManualClock, name: str = "Clean Beaches", days_left: int = 30
) -> int:
    charity = partner(db, "charity")
    with db.uow() as conn:
        created = donations.create_campaign(
            conn,
            ledger,
            charity_id=charity,
            name=name,
            currency_code="TWD",
            goal=1_000_000,
            starts_at_ns=clock.now_ns() - 60 * DAY_NS,
            ends_at_ns=clock.now_ns() + days_left * DAY_NS,
        )
    return int(created["campaign_id"])


def donate(http: httpx.Client, data: dict[str, str]) -> httpx.Response:
    return http.post("/app/wallet/donate", data=data)


def donation_form(http: httpx.Client, campaign_id: int, amount: str) -> dict[str, str]:
    """The donation form as the page gives it (its CSRF token and key), filled in."""
    fields = hidden_fields(http.get("/app/wallet/donate"), "/app/wallet/donate")
    return fields | {"campaign_id": str(campaign_id), "amount": amount}


def funded_donor(
    http: httpx.Client, sign_in: SignIn, handle: str, db: Database, ledger: LedgerService, clock: ManualClock
) -> tuple[int, int]:
    """``handle`` signed in on ``http`` with :data:`FUNDS` in the wallet, and a running campaign:
    ``(user_id, campaign_id)``."""
    user_id = sign_in(http, handle)
    fund(db, ledger, user_id)
    return user_id, campaign(db, ledger, clock)


def test_the_wallet_shows_the_balance_and_a_donation_in_the_history(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    user_id, campaign_id = funded_donor(browser_client, sign_in, "wallet-donor", db, ledger, clock)
    wallet = browser_client.get("/app/wallet")
    assert wallet.status_code == 200
    assert "NT$1,000.00" in wallet.text
    assert "Adjustment by support" in wallet.text
    campaign(db, ledger, clock, name="Last Winter's Drive", days_left=-1)
    form = browser_client.get("/app/wallet/donate")
    assert "Clean Beaches" in form.text
    assert "Drive" not in form.text  # an ended campaign takes no donations
    fields = hidden_fields(form, "/app/wallet/donate")
    given = donate(browser_client, fields | {"campaign_id": str(campaign_id), "amount": "250"})
    assert given.status_code == 303, given.text
    after = browser_client.get(given.headers["location"])
    assert "Thank you! Your donation was received." in after.text
    assert "NT$750.00" in after.text
    history = after.text[after.text.index('id="history-title"') :]
    assert history.index("Donation") < history.index("Adjustment by support")  # newest first
    assert "-NT$250.00" in history
    assert available(db, ledger, user_id) == FUNDS - 25_000


def test_the_same_form_sent_twice_moves_money_once(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    user_id, campaign_id = funded_donor(browser_client, sign_in, "wallet-twice", db, ledger, clock)
    data = donation_form(browser_client, campaign_id, "100")
    assert donate(browser_client, data).status_code == 303
    assert donate(browser_client, data).status_code == 303  # the same answer again
    assert available(db, ledger, user_id) == FUNDS - 10_000
    with db.uow(write=False) as conn:
        assert donations.campaign_progress(conn, ledger, campaign_id)["donations_count"] == 1


def test_not_enough_money_is_an_error_on_the_form_and_nothing_moves(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    user_id, campaign_id = funded_donor(browser_client, sign_in, "wallet-short", db, ledger, clock)
    fields = hidden_fields(browser_client.get("/app/wallet/donate"), "/app/wallet/donate")
    refused = donate(browser_client, fields | {"campaign_id": str(campaign_id), "amount": "1,000.01"})
    assert refused.status_code == 422
    assert "Not enough money in your wallet for this." in refused.text
    assert 'value="1000.01"' in refused.text  # what was typed stays in the form
    typo = donate(browser_client, fields | {"campaign_id": str(campaign_id), "amount": "12.345"})
    assert typo.status_code == 422
    assert "more decimals than the currency allows" in typo.text
    assert available(db, ledger, user_id) == FUNDS
    assert "NT$1,000.00" in browser_client.get("/app/wallet").text


def test_a_user_without_a_wallet_in_the_currency_is_told_so(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    sign_in(browser_client, "wallet-new")
    campaign_id = campaign(db, ledger, clock)
    assert "Your wallet is empty for now." in browser_client.get("/app/wallet").text
    assert "You need money in your wallet to pay." in browser_client.get("/app/wallet/pay").text
    refused = donate(browser_client, donation_form(browser_client, campaign_id, "10"))
    assert refused.status_code == 422
    assert "You have no wallet in this campaign&#39;s currency." in refused.text


def test_a_pay_code_is_shown_with_its_qr_and_reads_paid_once_the_store_charges_it(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService, risk: RiskEngine
) -> None:
    user_id = sign_in(browser_client, "wallet-code")
    fund(db, ledger, user_id)
    fields = hidden_fields(browser_client.get("/app/wallet/pay"), "/app/wallet/pay/code")
    issued = browser_client.post("/app/wallet/pay/code", data=fields | {"currency": "TWD"})
    assert issued.status_code == 303, issued.text  # on to the code's own page (no secret in the URL)
    shown = browser_client.get(issued.headers["location"])
    assert shown.status_code == 200, shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert "<svg" in shown.text
    assert "<title>QR code of your pay code</title>" in shown.text
    assert 'aria-label="QR code of your pay code; the same number is written below it"' in shown.text
    digits = re.search(r'class="amount code-digits">([0-9 ]+)<', shown.text)
    assert digits is not None
    code = digits.group(1).replace(" ", "")
    assert len(code) == pay.PAY_CODE_DIGITS
    drawn = re.search(r'<path [^>]*d="([^"]+)"', shown.text)
    assert drawn is not None  # the QR is the code shown, as a full QR code (tills read it)
    assert f'd="{drawn.group(1)}"' in segno.make_qr(code, error="m").svg_inline()
    status_url = re.search(r'hx-get="(/app/wallet/pay/code/[0-9]+)"', shown.text)
    assert status_url is not None
    waiting = browser_client.get(status_url.group(1), headers={"HX-Request": "true"})
    assert "Waiting for the store" in waiting.text
    assert "hx-trigger" in waiting.text
    shop = partner(db, "merchant")
    with db.uow() as conn:
        pay.charge_pay_code(
            conn,
            ledger,
            idempotency_key="till-1",
            merchant_id=shop,
            code=code,
            merchant_order_id="till-1",
            amount=12_300,
            risk=risk,
        )
    used = browser_client.get(status_url.group(1), headers={"HX-Request": "true"})
    assert "Paid: NT$123.00 at Merchant" in used.text
    assert "hx-trigger" not in used.text  # polling stops
    assert "<html" not in used.text  # a fragment
    assert "<html" in browser_client.get(status_url.group(1)).text  # a page without JavaScript
    assert available(db, ledger, user_id) == FUNDS - 12_300


def test_a_merchants_order_is_confirmed_once_and_paid(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService
) -> None:
    user_id = sign_in(browser_client, "wallet-order")
    fund(db, ledger, user_id)
    shop = partner(db, "merchant")
    with db.uow() as conn:
        order = pay.create_order(
            conn, ledger, merchant_id=shop, merchant_order_id="A-100", amount=45_000, payer_user_id=user_id
        )
    page = browser_client.get("/app/wallet/pay")
    assert "NT$450.00" in page.text
    assert "A-100" in page.text
    action = f"/app/wallet/pay/orders/{order['token']}/confirm"
    fields = hidden_fields(page, action)
    paid = browser_client.post(action, data=fields)
    assert paid.status_code == 303, paid.text
    again = browser_client.post(action, data=fields)  # a double submit
    assert again.status_code == 303, again.text
    shown = browser_client.get(paid.headers["location"])
    assert "Paid. The store has been told." in shown.text
    assert available(db, ledger, user_id) == FUNDS - 45_000
    with db.uow(write=False) as conn:
        assert (
            pay.merchant_order(conn, ledger, merchant_id=shop, merchant_order_id="A-100")["state"] == "paid"
        )
    assert "No orders are waiting for you." in browser_client.get("/app/wallet/pay").text
    keyless = browser_client.post(action, data={"csrftoken": fields.get("csrftoken", "")})
    assert keyless.status_code == 422  # no form key: refused before anything runs
    assert "This form has expired." in keyless.text


def test_a_deposit_hold_is_approved_from_the_wallet(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService
) -> None:
    user_id = sign_in(browser_client, "wallet-hold")
    hold_id = funded_with_hold(db, ledger, user_id, "scooter", 30_000)
    assert "1 waiting" in browser_client.get("/app/wallet").text
    page = browser_client.get("/app/wallet/holds")
    assert "scooter" in page.text
    assert "Waiting for you" in page.text
    action = f"/app/wallet/holds/{hold_id}/approve"
    approved = browser_client.post(action, data=hidden_fields(page, action))
    assert approved.status_code == 303, approved.text
    after = browser_client.get(approved.headers["location"])
    assert "The deposit is now held from your wallet." in after.text
    assert "Held" in after.text
    assert available(db, ledger, user_id) == FUNDS - 30_000
    wallet = browser_client.get("/app/wallet").text
    assert "NT$700.00" in wallet
    assert "NT$300.00" in wallet


def _with_destination(http: httpx.Client) -> httpx.Response:
    page = http.get("/app/wallet/withdraw")
    added = http.post(
        "/app/wallet/withdraw/destinations",
        data=hidden_fields(page, "/app/wallet/withdraw/destinations")
        | {
            "kind": "bank",
            "institution": "Taiwan Bank",
            "holder_name": "W. Holder",
            "account_number": "0012345678",
        },
    )
    assert added.status_code == 303, added.text
    return http.get(added.headers["location"])


def test_a_withdrawal_is_paid_out_or_under_review_and_a_refused_one_moves_nothing(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService
) -> None:
    user_id = sign_in(browser_client, "wallet-out")
    fund(db, ledger, user_id, 1_000_000)  # NT$10,000.00
    page = _with_destination(browser_client)
    assert "The payout account was added." in page.text
    assert "****5678" in page.text
    with db.uow(write=False) as conn:
        destination = withdrawals.list_destinations(conn, user_id)[0]["destination_id"]

    def withdraw(amount: str) -> httpx.Response:
        form = hidden_fields(browser_client.get("/app/wallet/withdraw"), "/app/wallet/withdraw")
        return browser_client.post(
            "/app/wallet/withdraw",
            data=form | {"destination_id": str(destination), "currency": "TWD", "amount": amount},
        )

    paid = withdraw("500")
    assert paid.status_code == 303, paid.text
    assert "Paid out" in browser_client.get(paid.headers["location"]).text
    held = withdraw("2,500")
    assert held.status_code == 303, held.text
    listing = browser_client.get(held.headers["location"]).text
    assert "Under review" in listing
    assert "NT$2,500.00" in listing
    refused = withdraw("3000")
    assert refused.status_code == 403
    assert "For your safety this was refused. Nothing was moved." in refused.text
    assert available(db, ledger, user_id) == 1_000_000 - 50_000 - 250_000


def test_the_wallet_in_traditional_chinese(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService
) -> None:
    user_id = sign_in(browser_client, "wallet-zh")
    fund(db, ledger, user_id)
    page = browser_client.get("/app/wallet", headers={"Accept-Language": "zh-TW"})
    assert page.status_code == 200
    for text in ("錢包", "餘額", "交易紀錄", "付款", "捐贈", "提領", "押金"):
        assert text in page.text
    assert "$1,000.00" in page.text  # Babel's zh-Hant-TW writes the New Taiwan dollar as "$"
    assert "NT$" not in page.text
    assert "Balance" not in page.text
    assert "History" not in page.text
    assert "付款碼" in browser_client.get("/app/wallet/pay", headers={"Accept-Language": "zh-TW"}).text


def test_an_unused_pay_code_reads_expired_after_two_minutes(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    user_id = sign_in(browser_client, "wallet-late")
    fund(db, ledger, user_id)
    fields = hidden_fields(browser_client.get("/app/wallet/pay"), "/app/wallet/pay/code")
    issued = browser_client.post("/app/wallet/pay/code", data=fields | {"currency": "TWD"})
    shown = browser_client.get(issued.headers["location"])
    status_url = re.search(r'hx-get="(/app/wallet/pay/code/[0-9]+)"', shown.text)
    assert status_url is not None
    clock.advance(seconds=pay.PAY_CODE_TTL_S)
    expired = browser_client.get(status_url.group(1), headers={"HX-Request": "true"})
    assert "This code has expired." in expired.text
    assert "hx-trigger" not in expired.text
    assert (
        browser_client.get("/app/wallet/pay/code/999999", headers={"HX-Request": "true"}).status_code == 404
    )
    assert available(db, ledger, user_id) == FUNDS


def test_a_declined_deposit_hold_holds_nothing(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService
) -> None:
    user_id = sign_in(browser_client, "wallet-no-hold")
    hold_id = funded_with_hold(db, ledger, user_id, "locker", 20_000)
    page = browser_client.get("/app/wallet/holds")
    action = f"/app/wallet/holds/{hold_id}/decline"
    declined = browser_client.post(action, data=hidden_fields(page, action))
    assert declined.status_code == 303, declined.text
    after = browser_client.get(declined.headers["location"])
    assert "You declined the deposit. Nothing was held." in after.text
    assert "Declined" in after.text
    approve = f"/app/wallet/holds/{hold_id}/approve"
    late = browser_client.post(approve, data=hidden_fields(page, approve))  # the page seen before
    assert late.status_code == 409
    assert "This was already done or is no longer possible." in late.text
    assert available(db, ledger, user_id) == FUNDS
