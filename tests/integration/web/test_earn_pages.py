"""The earn side of the app as a signed-in user sees it, over the real server: the game zone (the 2x
zone first and marked, rewards formatted, limits left), playing through the tracking service to the
store, a signed postback's cashback pending with its release date then confirmed after the worker's
release, a reversal with its reason; partner stores and purchases; binding an e-invoice carrier against
the in-app fake platform and the cashback of a synced receipt; and the same pages in Traditional
Chinese."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from earnloop.auth.service import create_partner
from earnloop.catalog import service as catalog
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.risk import reviews
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.cashback.reviews import decide_review
from earnloop.web.i18n import date_of_ns
from tests.conftest import ADMIN_TOKEN
from tests.integration.signed_post import post_signed
from tests.integration.web.conftest import SignIn
from tests.live_server import client

SECRET = "earn-pages-test-secret-0123456789"
TAIPEI = ZoneInfo("Asia/Taipei")  # the app shows dates in EARNLOOP_APP_TIMEZONE (default)
DAY_S = 86_400
DAY_NS = DAY_S * 10**9
GAME_LOCK_DAYS = 3
SHOP_LOCK_DAYS = 7
ANDROID = "Mozilla/5.0 (Linux; Android 14)"
ZH_TW = {"Accept-Language": "zh-TW,zh;q=0.9"}
PARTNER_TAX_ID = "04595257"
BARCODE, CODE = "/AB12+.-", "Ab12cd"


@dataclass(frozen=True)
class Catalog:
    dragon_id: int  # in the 2x zone
    calm_id: int  # no campaign (and first by key)
    merchant_id: int
    campaign_ends_ns: int


def _make_catalog(db: Database, ledger: LedgerService, clock: ManualClock) -> Catalog:
    now = clock.now_ns()
    with db.uow() as conn:
        publisher = create_partner(conn, "dragon-studio", "game_publisher", "TWD")
        store = create_partner(conn, "gadget-partner", "merchant", "TWD")
        milestones = [
            {"key": "lv5", "title": "Level 5", "within_days": 7, "reward_amount": 10_000, "position": 1},
            {"key": "lv10", "title": "Level 10", "within_days": 7, "reward_amount": 30_000, "position": 2},
        ]
        game = {
            "platforms": ["android"],
            "play_package": "com.example.dragon",
            "tracking_provider": "earnloop",
            "status": "active",
            "currency": "TWD",
            "publisher_id": publisher.id,
            "lock_period_days": GAME_LOCK_DAYS,
            "milestones": milestones,
        }
        dragon = catalog.upsert_game(conn, {**game, "key": "dragon", "title": "Dragon Quest-ish"})
        calm = catalog.upsert_game(
            conn, {**game, "key": "a-calm", "title": "Calm Garden", "play_package": "com.example.calm"}
        )
        ends = now + 30 * DAY_NS
        campaign = catalog.upsert_campaign(
            conn,
            {
                "key": "double",
                "name": "Double week",
                "multiplier_bps": 20000,
                "starts_at_ns": now - DAY_NS,
                "ends_at_ns": ends,
                "per_user_cap": 5,
                "budget_total": 1_000_000,
                "games": ["dragon"],
            },
        )
        catalog.fund_campaign(conn, ledger, campaign["campaign_id"], 1_000_000, "fund-double")
        merchant = catalog.upsert_merchant(
            conn,
            {
                "key": "gadgets",
                "partner_id": store.id,
                "name": "Gadgets",
                "category": "electronics",
                "tracking_template": "https://partner.example/track?sub={click_id}",
                "rates": {"default": 500},
                "lock_period_days": SHOP_LOCK_DAYS,
                "tax_ids": [PARTNER_TAX_ID],
            },
        )
    return Catalog(dragon["game_id"], calm["game_id"], merchant["merchant_id"], ends)


@pytest.fixture
def shop(site: str, db: Database, ledger: LedgerService, clock: ManualClock) -> Catalog:
    """The catalog, with the publisher's and the store's postback secrets registered by an operator."""
    world = _make_catalog(db, ledger, clock)
    with db.uow(write=False) as conn:
        publisher_id = catalog.get_game(conn, world.dragon_id)["publisher_id"]
    with client(site, ADMIN_TOKEN) as admin:
        for path in (
            f"/v1/admin/tracking/partners/{publisher_id}/secrets",
            f"/v1/admin/affiliate/merchants/{world.merchant_id}/secrets",
        ):
            assert admin.put(path, json={"secret": SECRET}).status_code == 200
    return world


def _csrf(page: httpx.Response) -> dict[str, str]:
    """The form's CSRF field as the page carries it (empty until the middleware is installed)."""
    found = re.search(r'name="csrftoken" value="([^"]*)"', page.text)
    assert found is not None, "every form carries the CSRF field"
    return {"csrftoken": found.group(1)}


def _card(page: str, title: str) -> str:
    """The HTML of the card (``<li class="card…">``) whose heading names ``title``."""
    cards = re.findall(r'<li class="card[^"]*"[^>]*>.*?</li>\s*(?=<li class="card|</ul>)', page, re.S)
    return next(card for card in cards if title in card)


def _confirm_due(db: Database, ledger: LedgerService, clock: ManualClock, days: int) -> None:
    """The worker's release, ``days`` later."""
    clock.advance(seconds=days * DAY_S)
    with db.uow() as conn:
        cashback.confirm_due(conn, ledger, clock.now_ns())


def _play(http: httpx.Client, game_id: int) -> str:
    """Press "Play" on the game zone: the store's URL carries the recorded click's id."""
    page = http.get("/app/games")
    played = http.post(f"/app/play/{game_id}", data=_csrf(page), headers={"User-Agent": ANDROID})
    assert played.status_code == 303, played.text
    location = urlsplit(played.headers["location"])
    assert (location.scheme, location.netloc) == ("https", "play.google.com")
    (referrer,) = parse_qs(location.query)["referrer"]
    return parse_qs(referrer)["click_id"][0]


def _game_postback(site: str, clock: ManualClock, fields: dict[str, object]) -> None:
    with httpx.Client(base_url=site) as provider:
        answer = post_signed(provider, clock, "/postbacks/earnloop", fields, secret=SECRET)
    assert answer.status_code == 200, answer.text


def _play_to_lv5(http: httpx.Client, shop: Catalog, site: str, clock: ManualClock) -> str:
    """Play the dragon game and have its provider report level 5 reached (transaction ``t1``); the
    click's id."""
    click_id = _play(http, shop.dragon_id)
    _game_postback(site, clock, {"transaction_id": "t1", "click_id": click_id, "event": "lv5", "amount": "1"})
    return click_id


def test_the_game_zone_lists_the_2x_zone_first_with_its_rewards_and_limits(
    browser_client: httpx.Client, sign_in: SignIn, shop: Catalog
) -> None:
    sign_in(browser_client, "zone-player")
    page = browser_client.get("/app/games")
    assert page.status_code == 200
    assert page.text.index("Dragon Quest-ish") < page.text.index("Calm Garden")  # "a-calm" sorts first
    dragon, calm = _card(page.text, "Dragon Quest-ish"), _card(page.text, "Calm Garden")
    assert dragon.startswith(f'<li class="card boosted" id="game-{shop.dragon_id}">')
    assert "2x zone" in dragon
    assert "Double week" in dragon
    assert "2× rewards" in dragon
    assert f"until {date_of_ns(shop.campaign_ends_ns, 'en', TAIPEI)}" in dragon
    assert "Bonuses left for you: 5" in dragon
    assert "NT$100.00" in dragon
    assert "NT$300.00" in dragon
    assert "Times left for you: 1" in dragon
    assert 'class="card"' in calm
    assert "2x zone" not in calm
    detail = browser_client.get(f"/app/games/{shop.dragon_id}")
    assert detail.status_code == 200
    assert "NT$200.00 with the campaign bonus" in detail.text  # priced as the postback would pay it
    assert browser_client.get("/app/games/999999").status_code == 404


def test_playing_earns_cashback_shown_pending_then_confirmed_and_a_reversal_with_its_reason(
    browser_client: httpx.Client,
    sign_in: SignIn,
    shop: Catalog,
    site: str,
    db: Database,
    ledger: LedgerService,
    clock: ManualClock,
) -> None:
    sign_in(browser_client, "progress-player")
    assert "You have not reached a milestone yet." in browser_client.get("/app/progress").text
    earned_at = clock.now_ns()
    click_id = _play_to_lv5(browser_client, shop, site, clock)

    pending = browser_client.get("/app/progress").text
    assert "Milestones reached: 1 of 2" in pending
    assert "NT$200.00" in pending
    assert "incl. NT$100.00 campaign bonus" in pending
    release = date_of_ns(earned_at + GAME_LOCK_DAYS * DAY_NS, "en", TAIPEI)
    assert "Pending" in pending
    assert f"confirmed on {release}" in pending
    assert "✓ Reached" in browser_client.get(f"/app/games/{shop.dragon_id}").text

    _confirm_due(db, ledger, clock, GAME_LOCK_DAYS + 1)
    confirmed = browser_client.get("/app/progress").text
    assert 'class="reward-confirmed"' in confirmed
    assert "Pending" not in confirmed

    _game_postback(
        site, clock, {"transaction_id": "t2", "click_id": click_id, "event": "lv10", "amount": "1"}
    )
    reversal = {"transaction_id": "t2-r", "click_id": click_id, "event": "lv10", "amount": "-1"}
    _game_postback(site, clock, {**reversal, "reversal": True, "reverses_transaction_id": "t2"})
    reversed_page = browser_client.get("/app/progress").text
    assert "NT$600.00" in reversed_page  # lv10 at 2x, as it was credited
    assert "Reversed" in reversed_page
    assert "The game&#39;s provider reversed it (a refund or a chargeback)." in reversed_page
    assert 'class="reward-confirmed"' in reversed_page  # the first reward stays paid

    chinese = browser_client.get("/app/progress", headers=ZH_TW).text
    assert "已入帳" in chinese
    assert "已撤銷" in chinese
    assert "Reversed" not in chinese
    zone = browser_client.get("/app/games", headers=ZH_TW).text
    assert "2 倍專區" in zone
    assert "2x zone" not in zone


def test_shopping_lists_partner_stores_and_purchases_pending_confirmed_or_declined(
    browser_client: httpx.Client,
    sign_in: SignIn,
    shop: Catalog,
    site: str,
    db: Database,
    ledger: LedgerService,
    clock: ManualClock,
) -> None:
    sign_in(browser_client, "shopper")
    page = browser_client.get("/app/shopping")
    assert "Gadgets" in page.text
    assert "5% cashback" in page.text
    assert "No purchases yet." in page.text
    clicked = browser_client.post(f"/app/shop/{shop.merchant_id}", data=_csrf(page))
    assert clicked.status_code == 303
    location = urlsplit(clicked.headers["location"])
    assert (location.netloc, location.path) == ("partner.example", "/track")
    click_id = parse_qs(location.query)["sub"][0]

    def order(order_id: str, status: str) -> None:
        fields = {
            "order_id": order_id,
            "click_id": click_id,
            "status": status,
            "order_amount": 100_000,
            "currency": "TWD",
            "event_time": "2026-12-04T10:00:00Z",
        }
        with httpx.Client(base_url=site) as partner:
            answer = post_signed(
                partner, clock, f"/affiliate/postbacks/{shop.merchant_id}", fields, secret=SECRET
            )
        assert answer.status_code == 200, answer.text

    order("o-kept", "pending")
    order("o-declined", "pending")
    order("o-declined", "declined")
    purchases = browser_client.get("/app/shopping").text
    assert "NT$1,000.00" in purchases
    assert "NT$50.00" in purchases
    assert "Pending" in purchases
    assert "The store declined the order." in purchases

    _confirm_due(db, ledger, clock, SHOP_LOCK_DAYS + 1)
    confirmed = browser_client.get("/app/shopping").text
    assert 'class="reward-confirmed"' in confirmed
    assert 'class="reward-reversed"' in confirmed
    assert "Pending" not in confirmed
    assert "購物回饋" in browser_client.get("/app/shopping", headers=ZH_TW).text


def test_binding_a_carrier_refuses_bad_input_then_a_synced_receipt_shows_its_cashback(
    browser_client: httpx.Client, sign_in: SignIn, shop: Catalog, site: str
) -> None:
    with httpx.Client(base_url=f"{site}/fake-einvoice") as platform:
        assert platform.post(
            "/_fake/carriers", json={"barcode": BARCODE, "verification_code": CODE}
        ).is_success
        for number, tax_id, name in (
            ("AB12345678", PARTNER_TAX_ID, "Gadgets Taipei"),
            ("CD87654321", "12345678", "Corner Shop"),
        ):
            invoice = {
                "barcode": BARCODE,
                "invoice_number": number,
                "invoice_date": "2023-11-10",  # within the first sync's window (the clock's 2023-11-15)
                "seller_tax_id": tax_id,
                "seller_name": name,
                "amount": 1000,
            }
            assert platform.post("/_fake/invoices", json=invoice).is_success
    sign_in(browser_client, "scanner")
    page = browser_client.get("/app/einvoice")
    assert "No carrier bound yet." in page.text

    wrong_format = browser_client.post(
        "/app/einvoice/carriers", data={**_csrf(page), "barcode": "AB12", "verification_code": CODE}
    )
    assert wrong_format.status_code == 422
    assert "The carrier code is" in wrong_format.text
    assert "No carrier bound yet." in wrong_format.text
    wrong_code = browser_client.post(
        "/app/einvoice/carriers", data={**_csrf(page), "barcode": BARCODE, "verification_code": "nope1234"}
    )
    assert wrong_code.status_code == 422
    assert "did not accept this carrier code" in wrong_code.text
    assert CODE not in wrong_code.text
    assert "nope1234" not in wrong_code.text

    bound = browser_client.post(
        "/app/einvoice/carriers", data={**_csrf(page), "barcode": BARCODE, "verification_code": CODE}
    )
    assert bound.status_code == 303
    page = browser_client.get(bound.headers["location"])
    assert "Your carrier is bound." in page.text
    assert BARCODE in page.text
    carrier_id = re.search(r'/app/einvoice/carriers/(\d+)/sync"', page.text)
    assert carrier_id is not None
    synced = browser_client.post(f"/app/einvoice/carriers/{carrier_id.group(1)}/sync", data=_csrf(page))
    assert synced.status_code == 303
    receipts = browser_client.get(synced.headers["location"])
    assert "Synced." in receipts.text
    partner_row = re.search(r"<tr[^>]*>\s*<td>Gadgets Taipei.*?</tr>", receipts.text, re.S)
    stranger_row = re.search(r"<tr[^>]*>\s*<td>Corner Shop.*?</tr>", receipts.text, re.S)
    assert partner_row is not None
    assert stranger_row is not None
    assert "NT$1,000.00" in partner_row.group(0)
    assert "NT$50.00" in partner_row.group(0)
    assert "Pending" in partner_row.group(0)
    assert "Not a partner store: no cashback." in stranger_row.group(0)
    chinese = browser_client.get("/app/einvoice", headers=ZH_TW).text
    assert "載具" in chinese
    assert "待入帳" in chinese
    assert "Pending" not in chinese


def test_a_reward_held_by_a_review_says_so_and_a_rejection_says_why(
    browser_client: httpx.Client,
    sign_in: SignIn,
    shop: Catalog,
    site: str,
    db: Database,
    ledger: LedgerService,
    clock: ManualClock,
) -> None:
    user_id = sign_in(browser_client, "reviewed-player")
    _play_to_lv5(browser_client, shop, site, clock)
    with db.uow() as conn:  # as the earn path does when the risk engine decides "review"
        reviews.hold(
            conn,
            event_ref="game:earnloop:t1",
            source="game",
            reward_ref="earnloop:t1",
            user_id=user_id,
            reasons=("velocity",),
            now_ns=clock.now_ns(),
        )
    _confirm_due(db, ledger, clock, GAME_LOCK_DAYS + 1)
    held = browser_client.get("/app/progress").text
    assert "being checked before it is confirmed" in held
    assert "入帳前審核中" in browser_client.get("/app/progress", headers=ZH_TW).text

    with db.uow() as conn:
        review = reviews.review_of(conn, source="game", reward_ref="earnloop:t1")
        assert review is not None
        decide_review(conn, ledger, review["review_id"], approve=False, reviewer="ops", note="farm")
    rejected = browser_client.get("/app/progress").text
    assert 'class="reward-reversed"' in rejected
    assert "It was not confirmed after a review of the activity." in rejected
    assert "The game&#39;s provider" not in rejected


def test_signed_out_visitors_go_to_sign_in_and_what_is_not_offered_is_not_found(
    browser_client: httpx.Client, sign_in: SignIn, shop: Catalog
) -> None:
    for path in ("/app/games", "/app/progress", "/app/shopping", "/app/einvoice"):
        answer = browser_client.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/app/signin?next={path}"
    signed_out = browser_client.post(f"/app/play/{shop.dragon_id}", data=_csrf(browser_client.get("/app")))
    assert signed_out.headers["location"] == "/app/signin?next=/app"
    sign_in(browser_client, "curious")
    token = _csrf(browser_client.get("/app/games"))
    assert browser_client.post("/app/play/999999", data=token).status_code == 404
    assert browser_client.post("/app/shop/999999", data=token).status_code == 404
    foreign = browser_client.post("/app/einvoice/carriers/999999/sync", data=token)
    assert foreign.status_code == 404
    assert "No such carrier." in foreign.text
