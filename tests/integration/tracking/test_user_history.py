"""The reads the app's earn pages make of one user's game activity: the milestone and campaign uses
(``catalog.uses_of_user``), the accepted conversions with their game (``tracking.conversions_of_user``)
and the cashback entries (``cashback.entries_of_user``) — the user's own only, newest first."""

from __future__ import annotations

import httpx

from earnloop.auth.service import create_user
from earnloop.catalog import service as catalog
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.tracking import service as tracking
from earnloop.wallet.cashback import service as cashback
from tests.integration.tracking.support import World, click, event, postback, reversal


def test_a_players_uses_conversions_and_cashback_are_read_back_as_they_stand(
    api: httpx.Client, clock: ManualClock, db: Database, world: World
) -> None:
    click_id = click(api, world)
    for fields in (
        event("t1", click_id, "lv5"),
        event("t2", click_id, "lv10"),
        reversal("t2-r", click_id, "t2", "lv10"),
    ):
        assert postback(api, clock, fields).status_code == 200
    with db.uow() as conn:
        stranger = create_user(conn, "stranger").id
    with db.uow(write=False) as conn:
        lv5, lv10, lv20 = (m["milestone_id"] for m in catalog.get_game(conn, world.game_id)["milestones"])
        milestone_uses = catalog.uses_of_user(conn, world.user_id, "milestone")
        campaign_uses = catalog.uses_of_user(conn, world.user_id, "campaign")
        conversions = tracking.conversions_of_user(conn, world.user_id)
        entries = cashback.entries_of_user(conn, world.user_id, source="game")
        assert cashback.entries_of_user(conn, world.user_id, source="shopping") == []
        assert catalog.uses_of_user(conn, stranger, "milestone") == {}
        assert tracking.conversions_of_user(conn, stranger) == []
        assert cashback.entries_of_user(conn, stranger) == []

    assert milestone_uses == {lv5: 1, lv10: 1}  # a reversal keeps the milestone counted
    assert campaign_uses == {world.campaign_id: 2}
    assert [(c["transaction_id"], c["milestone_id"]) for c in conversions] == [
        ("t2-r", lv10),
        ("t2", lv10),
        ("t1", lv5),
    ]
    assert {c["game_id"] for c in conversions} == {world.game_id}
    assert [c["ref"] for c in conversions][1:] == ["earnloop:t2", "earnloop:t1"]
    assert lv20 not in milestone_uses
    by_ref = {e["ref"]: (e["amount"], e["status"]) for e in entries}
    assert by_ref == {
        "earnloop:t1": (100, "pending"),
        f"earnloop:t1:bonus:{world.campaign_id}": (100, "pending"),
        "earnloop:t2": (300, "reversed"),
        f"earnloop:t2:bonus:{world.campaign_id}": (300, "reversed"),
    }
    assert [e["ref"] for e in entries][-1] == "earnloop:t1"  # newest first
    assert all(e["created_at_ns"] > 0 for e in entries)
