"""Explore next (``/app/explore``): a signed-in player sees the games and stores it has not tried as
cards — what players of its game went on to play first, "Because you played …", with the reward to
earn and a link to the game; stores with their cashback rate; the rest "Popular with players" — in
English and in Traditional Chinese; a newcomer sees the most popular; signed-out visitors sign in first."""

from __future__ import annotations

import httpx

from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine
from earnloop.sim import adapter
from tests.integration.recs.support import ORIGIN, make_history
from tests.integration.web.conftest import SignIn

ZH = {"Accept-Language": "zh-TW,zh;q=0.9"}


def test_a_player_sees_what_players_of_its_game_went_on_to_play(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService, risk: RiskEngine
) -> None:
    shop = make_history(db, ledger, risk)
    user_id = sign_in(browser_client, "explorer")
    with db.uow() as conn:
        adapter.click_game(conn, risk, user_id, shop.games["dragon"], ORIGIN, ledger.clock.now_ns())
    page = browser_client.get("/app/explore")
    assert page.status_code == 200
    html = page.text
    assert '<a href="/app/explore" aria-current="page">' in html
    assert "<h1>Explore next</h1>" in html
    first_card = html.split('<li class="card">')[1]
    assert f'<a href="/app/games/{shop.games["puzzle"]}">Puzzle Garden</a>' in first_card
    assert "Up to NT$4.50 cashback" in first_card
    assert "Because you played Dragon Quest-ish" in first_card
    assert f"/app/games/{shop.games['dragon']}" not in html  # tried: not offered again
    assert "Old Arcade" not in html  # retired
    assert "Books &amp; Co" in html
    assert "4% cashback" in html
    assert "Popular with players" in html


def test_the_page_is_in_traditional_chinese_for_a_taiwan_browser(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService, risk: RiskEngine
) -> None:
    shop = make_history(db, ledger, risk)
    user_id = sign_in(browser_client, "explorer-zh")
    with db.uow() as conn:
        adapter.click_merchant(conn, user_id, shop.merchants["gadgets"], ORIGIN, ledger.clock.now_ns())
    html = browser_client.get("/app/explore", headers=ZH).text
    assert "<h1>探索下一個</h1>" in html
    first_card = html.split('<li class="card">')[1]
    assert "Books &amp; Co" in first_card
    assert "因為您在「Gadgets」購物過" in first_card
    assert "4% 回饋" in first_card
    assert "玩家熱門選擇" in html
    assert "最高可領" in html
    for english in ("Explore next", "Because you", "Popular with players", "cashback"):
        assert english not in html


def test_a_newcomer_sees_the_most_popular_and_a_visitor_signs_in_first(
    browser_client: httpx.Client, sign_in: SignIn, db: Database, ledger: LedgerService, risk: RiskEngine
) -> None:
    make_history(db, ledger, risk)
    visitor = browser_client.get("/app/explore")
    assert visitor.status_code in (302, 303, 307)
    assert visitor.headers["location"] == "/app/signin?next=/app/explore"
    sign_in(browser_client, "newcomer-web")
    html = browser_client.get("/app/explore").text
    assert html.count('<li class="card">') == 5  # three active games and two stores
    assert html.count("Popular with players") == 5
    assert "Because you" not in html
