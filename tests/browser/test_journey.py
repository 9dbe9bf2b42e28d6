"""The earn loop as a person lives it, in Chromium, in English and in Traditional Chinese: sign up, add a
passkey (a virtual platform authenticator), pick a game in the 2x zone and go to its store, a signed
postback arrives, the cashback shows pending and — after the worker's release, the clock advanced —
confirmed; pay a store with a pay code confirmed by the passkey, donate, approve a deposit hold, bind an
e-invoice carrier and see a receipt's cashback. Every screen passes axe (no serious or critical
violation), weighs ≤ 150 KB and is saved as a screenshot under ``var/screenshots/<lang>/``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from earnloop.auth.service import create_partner
from earnloop.catalog import service as catalog
from earnloop.wallet import service as wallet
from earnloop.wallet.donations import service as donations
from earnloop.wallet.holds import service as holds
from earnloop.wallet.pay import service as pay
from earnloop.worker import confirm_cashback
from tests.browser.conftest import LANGS
from tests.browser.harness import (
    ADMIN_TOKEN,
    AppServer,
    assert_light,
    check_accessibility,
    page_weight,
    screenshot,
    virtual_authenticator,
)
from tests.integration.signed_post import post_signed
from tests.integration.web.test_earn_pages import (
    BARCODE,
    CODE,
    GAME_LOCK_DAYS,
    PARTNER_TAX_ID,
    SECRET,
    Catalog,
    _make_catalog,
)
from tests.live_server import client

DAY_S = 86_400
PASSWORD = "correct horse battery"
STORE_PAGE = "<!doctype html><html lang=en><title>Store</title><main><h1>The game in the store</h1></main>"
# each language's person binds their own carrier, with one receipt from the partner store on it
CARRIERS = {"en": (BARCODE, "AB12345678"), "zh-TW": ("/ZH34+.-", "ZH87654321")}
TOP_UP = 200_000  # NT$2,000.00 from support, so that the payments go above the passkey threshold


@dataclass(frozen=True)
class World:
    catalog: Catalog
    store_id: int  # the partner store the user pays with a pay code (its API key: store_key)
    store_key: str
    charity_campaign_id: int


@pytest.fixture(scope="module")
def world(app_site: AppServer) -> World:
    """The catalog (a game in the 2x zone, a partner store), postback secrets, a charity campaign, a
    store that takes pay codes and rents scooters against a deposit, and a carrier on the e-invoice
    platform with a receipt from the partner store."""
    db, ledger, clock = app_site.db, app_site.ledger, app_site.clock
    made = _make_catalog(db, ledger, clock)
    with db.uow() as conn:
        publisher_id = catalog.get_game(conn, made.dragon_id)["publisher_id"]
        charity = create_partner(conn, "Clean Beaches Society", "charity", "TWD")
        campaign = donations.create_campaign(
            conn,
            ledger,
            charity_id=charity.id,
            name="Clean Beaches",
            currency_code="TWD",
            goal=1_000_000,
            starts_at_ns=clock.now_ns() - DAY_S * 10**9,
            ends_at_ns=clock.now_ns() + 90 * DAY_S * 10**9,
        )
        store = create_partner(conn, "Scooter Corner", "merchant", "TWD")
        holds.set_policy(conn, product="scooter", currency_code="TWD", partner_id=store.id, amount=30_000)
    with client(app_site.base_url, ADMIN_TOKEN) as admin:
        for path in (
            f"/v1/admin/tracking/partners/{publisher_id}/secrets",
            f"/v1/admin/affiliate/merchants/{made.merchant_id}/secrets",
        ):
            assert admin.put(path, json={"secret": SECRET}).status_code == 200
    with httpx.Client(base_url=f"{app_site.base_url}/fake-einvoice") as platform:
        for barcode, invoice_number in CARRIERS.values():
            carrier = {"barcode": barcode, "verification_code": CODE}
            assert platform.post("/_fake/carriers", json=carrier).is_success
            invoice = {
                "barcode": barcode,
                "invoice_number": invoice_number,
                "invoice_date": "2023-11-10",
                "seller_tax_id": PARTNER_TAX_ID,
                "seller_name": "Gadgets Taipei",
                "amount": 1000,
            }
            assert platform.post("/_fake/invoices", json=invoice).is_success
    return World(made, store.id, store.secret, int(campaign["campaign_id"]))


@pytest.fixture
def store_front(context: BrowserContext) -> list[str]:
    """The app stores are outside this machine: the browser lands on a stand-in page; yields the URLs."""
    visited: list[str] = []

    def answer(route: Route) -> None:
        visited.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body=STORE_PAGE)

    context.route("https://play.google.com/**", answer)
    return visited


def screen(page: Page, path: str, name: str) -> None:
    """Open ``path`` as a first visit: light, accessible, and saved as a screenshot."""
    weight = page_weight(page, path)
    assert_light(weight, name)
    check_accessibility(page, name)
    screenshot(page, name)


def settled(page: Page, name: str) -> None:
    """The page the browser is on now (after a form): accessible, and saved as a screenshot."""
    page.wait_for_load_state("load")
    check_accessibility(page, name)
    screenshot(page, name)


@pytest.mark.parametrize("lang", LANGS)
def test_a_person_earns_keeps_and_spends_cashback_in_the_app(
    page: Page, app_site: AppServer, world: World, store_front: list[str], lang: str
) -> None:
    handle = f"journey-{lang.lower()}"
    _sign_up(page, handle)
    _add_passkey(page)
    click_id = _play_a_game_in_the_2x_zone(page, world, store_front)
    _postback_then_pending_then_confirmed(page, app_site, click_id)
    user_id = _user_id(app_site, handle)
    _top_up(app_site, user_id)
    _pay_a_store_with_a_pay_code(page, app_site, world)
    _donate(page, world)
    _approve_a_deposit_hold(page, app_site, world, user_id)
    _bind_a_carrier_and_see_a_receipts_cashback(page, *CARRIERS[lang])


def _sign_up(page: Page, handle: str) -> None:
    screen(page, "/app", "welcome")
    screen(page, "/app/signup", "signup")
    page.fill("#handle", handle)
    page.fill("#password", PASSWORD)
    page.locator("form[action^='/app/signup'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/app/games$"))


def _add_passkey(page: Page) -> None:
    authenticator = virtual_authenticator(page)
    screen(page, "/app/account/passkeys", "passkeys-empty")
    page.fill("#passkey-name", "Phone")
    page.locator("form#passkey-register button[type=submit]").click()
    expect(page.locator("text=Phone").first).to_be_visible()
    assert len(authenticator.credentials()) == 1
    settled(page, "passkeys")
    screen(page, "/app/account", "account")


def _play_a_game_in_the_2x_zone(page: Page, world: World, store_front: list[str]) -> str:
    screen(page, "/app/games", "games")
    first = page.locator("li.card").first
    expect(first).to_have_attribute("id", f"game-{world.catalog.dragon_id}")
    expect(first).to_have_class(re.compile(r"\bboosted\b"))
    screen(page, f"/app/games/{world.catalog.dragon_id}", "game")
    page.locator(f"form[action='/app/play/{world.catalog.dragon_id}'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"^https://play\.google\.com/"))
    screenshot(page, "store")
    (referrer,) = parse_qs(urlsplit(store_front[-1]).query)["referrer"]
    return parse_qs(referrer)["click_id"][0]


def _postback_then_pending_then_confirmed(page: Page, app_site: AppServer, click_id: str) -> None:
    fields = {"transaction_id": f"t-{click_id}", "click_id": click_id, "event": "lv5", "amount": "1"}
    with httpx.Client(base_url=app_site.base_url) as provider:
        answer = post_signed(provider, app_site.clock, "/postbacks/earnloop", fields, secret=SECRET)
    assert answer.status_code == 200, answer.text
    screen(page, "/app/progress", "progress-pending")
    expect(page.locator(".reward-pending").first).to_be_visible()
    app_site.clock.advance(seconds=(GAME_LOCK_DAYS + 1) * DAY_S)
    assert confirm_cashback(app_site.db, app_site.ledger) >= 1
    screen(page, "/app/progress", "progress-confirmed")
    expect(page.locator(".reward-confirmed").first).to_be_visible()
    expect(page.locator(".reward-pending")).to_have_count(0)


def _user_id(app_site: AppServer, handle: str) -> int:
    with app_site.db.uow(write=False) as conn:
        found = conn.exec_driver_sql("SELECT id FROM users WHERE handle = ?", (handle,)).scalar_one()
    return int(found)


def _top_up(app_site: AppServer, user_id: int) -> None:
    with app_site.db.uow() as conn:
        wallet.adjust(
            conn,
            app_site.ledger,
            idempotency_key=f"journey-top-up-{user_id}",
            user_id=user_id,
            currency_code="TWD",
            amount=TOP_UP,
            direction="credit",
            reason="welcome credit",
            actor="support",
        )


def _confirm_with_passkey(page: Page, name: str) -> None:
    """The step-up page: confirm with the (virtual) fingerprint; the browser goes where the action led."""
    expect(page.locator("form[action^='/app/confirm/']")).to_be_visible()
    settled(page, name)
    page.locator("form[action^='/app/confirm/'] button[type=submit]").click()
    page.wait_for_url(lambda url: "/app/confirm/" not in url and url != "about:blank")


def _pay_a_store_with_a_pay_code(page: Page, app_site: AppServer, world: World) -> None:
    screen(page, "/app/wallet", "wallet")
    screen(page, "/app/wallet/pay", "pay")
    page.fill("#code-limit", "800")
    page.locator("form[action='/app/wallet/pay/code'] button[type=submit]").click()
    _confirm_with_passkey(page, "pay-code-confirm")
    expect(page.locator(".code-cap")).to_contain_text("800.00")
    code = re.sub(r"\D", "", page.locator(".code-digits").first.inner_text())
    settled(page, "pay-code")
    with app_site.db.uow() as conn:  # the store's till charges the code it scanned
        pay.charge_pay_code(
            conn,
            app_site.ledger,
            idempotency_key=f"till-7-{code}",
            merchant_id=world.store_id,
            code=code,
            merchant_order_id=f"till-7-{code}",
            amount=65_000,
            risk=app_site.app.state.ctx.risk,
        )
    expect(page.locator("#code-status .good")).to_be_visible(timeout=15_000)  # htmx polls every 3 s
    settled(page, "pay-code-paid")


def _donate(page: Page, world: World) -> None:
    screen(page, "/app/wallet/donate", "donate")
    page.select_option("#campaign", str(world.charity_campaign_id))
    page.fill("#donate-amount", "100")
    page.locator("form[action='/app/wallet/donate'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/app/wallet"))
    settled(page, "donated")


def _approve_a_deposit_hold(page: Page, app_site: AppServer, world: World, user_id: int) -> None:
    with app_site.db.uow() as conn:
        requested = holds.request_hold(
            conn,
            app_site.ledger,
            idempotency_key=f"journey-hold-{user_id}",
            merchant_id=world.store_id,
            product="scooter",
            user_id=user_id,
            currency_code="TWD",
            ref=f"rental-{user_id}",
        )
    screen(page, "/app/wallet/holds", "holds")
    page.locator(f"form[action='/app/wallet/holds/{requested['hold_id']}/approve'] button").click()
    expect(page).to_have_url(re.compile(r"/app/wallet/holds"))
    settled(page, "hold-approved")
    with app_site.db.uow(write=False) as conn:
        assert holds.get_hold(conn, app_site.ledger, requested["hold_id"])["state"] == "held"


def _bind_a_carrier_and_see_a_receipts_cashback(page: Page, barcode: str, invoice_number: str) -> None:
    screen(page, "/app/einvoice", "einvoice")
    page.fill("#barcode", barcode)
    page.fill("#verification_code", CODE)
    page.locator("form[action='/app/einvoice/carriers'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/app/einvoice"))
    page.locator("form[action$='/sync'] button[type=submit]").first.click()
    receipt = page.locator("tr", has_text=invoice_number)
    expect(receipt).to_contain_text("1,000.00")  # the receipt …
    expect(receipt).to_contain_text("50.00")  # … and its 5% cashback from the partner store
    settled(page, "einvoice-receipt")
