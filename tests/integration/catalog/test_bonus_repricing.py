"""A bonus priced against a budget that another reward used meanwhile (what a concurrent postback does on
PostgreSQL) is re-priced against the budget left, on both databases: the amount paid is what the
campaign's mode allows *now*, the budget never goes below zero and the use recorded is what was paid."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from earnloop.auth.service import create_user
from earnloop.catalog import pricing
from earnloop.catalog import service as catalog
from earnloop.catalog.models import catalog_usage_refs
from earnloop.db.engine import Database
from earnloop.earn.bonuses import RewardTarget, bonus_ref, pay_bonus
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.chart import AccountKind
from tests.integration.tracking.support import DAY_NS


def _expected(wanted: int, left: int, mode: str) -> int:
    if wanted <= left:
        return wanted
    return left if mode == "pay_partial" else 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    funded=st.integers(1, 1_000),
    wanted=st.integers(1, 600),
    drained=st.integers(1, 1_000),
    mode=st.sampled_from(["pay_partial", "all_or_nothing"]),
)
def test_a_stale_bonus_is_repriced_against_the_budget_left(
    db: Database,
    ledger: LedgerService,
    clock: ManualClock,
    funded: int,
    wanted: int,
    drained: int,
    mode: str,
) -> None:
    drained = min(drained, funded)
    now = clock.now_ns()
    with db.uow() as conn:
        example = conn.begin_nested()  # rolled back at the end: every example starts from nothing
        player, rival = create_user(conn, "player").id, create_user(conn, "rival").id
        game = catalog.upsert_game(
            conn,
            {
                "key": "dragon",
                "title": "Dragon",
                "platforms": ["web"],
                "tracking_provider": "earnloop",
                "status": "active",
                "milestones": [{"key": "lv5", "title": "Level 5", "reward_amount": 100}],
            },
        )
        campaign = catalog.upsert_campaign(
            conn,
            {
                "key": "bonus",
                "name": "Bonus",
                "fixed_bonus": wanted,
                "starts_at_ns": now - DAY_NS,
                "ends_at_ns": now + DAY_NS,
                "budget_total": funded,
                "budget_mode": mode,
                "games": ["dragon"],
            },
        )
        cid = campaign["campaign_id"]
        catalog.fund_campaign(conn, ledger, cid, funded, "fund")
        milestone_id = game["milestones"][0]["milestone_id"]
        (stale,) = pricing.price_reward(
            conn, ledger, user_id=player, at_ns=now, milestone_id=milestone_id
        ).bonuses
        cashback.credit_pending(  # another reward takes part of the budget after the player was priced
            conn,
            ledger,
            source="game",
            ref="rival",
            user_id=rival,
            currency_code="TWD",
            amount=drained,
            release_at_ns=now,
            funding=cashback.Funding(AccountKind.CAMPAIGN_BUDGET, cid),
        )
        target = RewardTarget("game", "earnloop:t-1", player, "TWD", now)
        paid = pay_bonus(conn, ledger, target, stale)
        assert paid == _expected(wanted, funded - drained, mode)
        assert catalog.budget_remaining(conn, ledger, cid, "TWD") == funded - drained - paid >= 0
        recorded = conn.execute(
            select(catalog_usage_refs.c.amount).where(catalog_usage_refs.c.subject == "campaign")
        ).scalars()
        assert list(recorded) == ([paid] if paid else [])
        entry = cashback.find(conn, "game", bonus_ref("earnloop:t-1", cid))
        assert (entry or {}).get("amount", 0) == paid
        example.rollback()
