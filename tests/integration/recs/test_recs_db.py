"""Recommendations from a real database: the interactions the earn paths recorded (game clicks, reached
milestones, store clicks, purchases) feed the model; a player gets what players of the same game went
on to play, never what it tried, with the game that explains it; a newcomer gets the most popular; the
catalog gives each card its reward or cashback rate; retired games are not offered."""

from __future__ import annotations

import pytest

from earnloop.auth.service import create_user
from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService
from earnloop.recs import interactions
from earnloop.recs import service as recs
from earnloop.recs.model import GAME, MERCHANT, Item
from earnloop.risk.engine import RiskEngine
from earnloop.sim import adapter
from tests.integration.recs.support import ORIGIN, Shop, make_history


@pytest.fixture
def shop(db: Database, ledger: LedgerService, risk: RiskEngine) -> Shop:
    return make_history(db, ledger, risk)


def test_every_recorded_interaction_is_read_oldest_first(db: Database, shop: Shop) -> None:
    with db.uow(write=False) as conn:
        found = interactions.from_database(conn)
    kinds = {(e.user_id, e.item, e.action) for e in found}
    u, g, m = shop.users, shop.games, shop.merchants
    assert (u["p1"], Item(GAME, g["dragon"]), "milestone") in kinds
    assert (u["p1"], Item(GAME, g["dragon"]), "click") in kinds
    assert (u["s1"], Item(MERCHANT, m["books"]), "purchase") in kinds
    assert (u["s2"], Item(MERCHANT, m["books"]), "click") in kinds
    assert (u["s2"], Item(MERCHANT, m["books"]), "purchase") not in kinds
    assert [e.at_ns for e in found] == sorted(e.at_ns for e in found)
    assert {e.item for e in found if e.user_id == u["fan"]} == {Item(GAME, g["dragon"])}


def test_a_player_gets_what_players_of_the_same_game_went_on_to_play(db: Database, shop: Shop) -> None:
    with db.uow(write=False) as conn:
        found = recs.recommend(conn, shop.users["fan"], k=10)
    first = found[0]
    assert (first.kind, first.item_id, first.name) == ("game", shop.games["puzzle"], "Puzzle Garden")
    assert (first.reason, first.because_name) == (recs.SIMILAR, "Dragon Quest-ish")
    assert first.because == Item(GAME, shop.games["dragon"])
    assert (first.reward, first.currency, first.rate_bps) == (450, "TWD", None)
    listed = [(r.kind, r.item_id) for r in found]
    assert ("game", shop.games["dragon"]) not in listed
    assert ("game", shop.games["retired"]) not in listed
    assert [r.reason for r in found[1:]] == [recs.POPULAR] * (len(found) - 1)


def test_a_shopper_gets_the_store_other_shoppers_went_to_with_its_rate(db: Database, shop: Shop) -> None:
    with db.uow() as conn:
        shopper = create_user(conn, "gadget-fan").id
        adapter.click_merchant(conn, shopper, shop.merchants["gadgets"], ORIGIN, 1)
    with db.uow(write=False) as conn:
        first = recs.recommend(conn, shopper, k=3)[0]
    assert (first.kind, first.item_id, first.rate_bps, first.reward) == (
        "merchant", shop.merchants["books"], 400, None,
    )  # fmt: skip
    assert (first.because_name, first.because) == ("Gadgets", Item(MERCHANT, shop.merchants["gadgets"]))


def test_a_newcomer_gets_the_most_popular_first(db: Database, shop: Shop) -> None:
    with db.uow(write=False) as conn:
        found = recs.recommend(conn, shop.users["newcomer"], k=3)
    assert [(r.kind, r.item_id) for r in found] == [
        ("game", shop.games["dragon"]),  # 4 players, NT$4 to earn
        ("game", shop.games["racer"]),  # 4 players, NT$1.50: the larger reward breaks the tie
        ("game", shop.games["puzzle"]),  # 3 players
    ]
    assert {(r.reason, r.because) for r in found} == {(recs.POPULAR, None)}


def test_a_bad_list_size_is_refused(db: Database, shop: Shop) -> None:
    with db.uow(write=False) as conn, pytest.raises(ValueError, match="k must be"):
        recs.recommend(conn, shop.users["fan"], k=0)
