"""The catalog's public API: what other domains, the routes and the CLIs call. The use cases live in
their own modules — merchants (`merchants.py`), games and milestones (`games.py`), campaigns and their
budgets (`campaigns.py`), per-user uses under caps (`usage.py`), reward pricing (`pricing.py`) — and
this module names the functions and types other packages may use. Other domains read catalog data
through these functions only, never through the catalog's tables.

Every function takes the caller's connection and never commits.
"""

from __future__ import annotations

from earnloop.catalog.campaigns import (
    CAMPAIGN_FUNDING_CODE,
    active_campaign_rows,
    budget_account,
    budget_remaining,
    campaigns_targeting,
    fund_campaign,
    get_campaign,
    list_campaigns,
    upsert_campaign,
)
from earnloop.catalog.games import (
    game_problems,
    game_publishers,
    game_row,
    get_game,
    get_milestone,
    list_games,
    upsert_game,
    upsert_game_spec,
)
from earnloop.catalog.merchants import (
    get_merchant,
    list_merchants,
    merchant_exists,
    merchant_for_tax_id,
    merchant_problems,
    upsert_merchant,
    upsert_merchant_spec,
)
from earnloop.catalog.pricing import BonusPart, Pricing, price_milestone, price_reward, reprice_bonus
from earnloop.catalog.usage import (
    SUBJECTS,
    count_use,
    milestones_with_uses,
    record_use,
    used,
    uses_of_user,
    uses_with_ref_prefix,
)
from earnloop.catalog.validation import AMOUNT_MAX, valid_tax_id

__all__ = [
    "AMOUNT_MAX",
    "CAMPAIGN_FUNDING_CODE",
    "SUBJECTS",
    "BonusPart",
    "Pricing",
    "active_campaign_rows",
    "budget_account",
    "budget_remaining",
    "campaigns_targeting",
    "count_use",
    "fund_campaign",
    "game_problems",
    "game_publishers",
    "game_row",
    "get_campaign",
    "get_game",
    "get_merchant",
    "get_milestone",
    "list_campaigns",
    "list_games",
    "list_merchants",
    "merchant_exists",
    "merchant_for_tax_id",
    "merchant_problems",
    "milestones_with_uses",
    "price_milestone",
    "price_reward",
    "record_use",
    "reprice_bonus",
    "upsert_campaign",
    "upsert_game",
    "upsert_game_spec",
    "upsert_merchant",
    "upsert_merchant_spec",
    "used",
    "uses_of_user",
    "uses_with_ref_prefix",
    "valid_tax_id",
]
