"""Pricing a reward: base reward + the bonus of every applicable active campaign, within caps and budgets.

Split of the money (what the earn engine pays, and from which ledger account):

- **base part** — the milestone's reward (games) or ``purchase × rate`` (merchants, by category). Paid
  from ``PARTNER_FUNDING`` of the merchant's partner / the game's publisher, or ``OPERATOR_FUNDING``
  for a game without a publisher.
- **bonus parts** — one per applicable campaign (active, in schedule, targeting the game/merchant, same
  currency): ``base × (multiplier_bps − 10000) / 10000 + fixed_bonus`` (floored; several campaigns add
  up). Paid from that campaign's ``CAMPAIGN_BUDGET``, which cannot overdraw.
- A campaign whose per-user cap is used up gives nothing (``cap_reached``). When the bonus exceeds what
  is left of the budget: ``pay_partial`` pays what is left (``partial``), ``all_or_nothing`` pays nothing
  (``budget_exhausted``).

Pricing only reads. The earn engine then calls :func:`earnloop.catalog.usage.record_use` for the
milestone and each paid campaign (guarded by the caps), and creates the pending transfers; if a budget
ran out meanwhile the ledger refuses the transfer (``exceeds_credits``) and the engine re-prices that
bonus with :func:`reprice_bonus` (same rules, the budget left now).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, select

from earnloop.catalog.campaigns import budget_remaining, campaigns_targeting
from earnloop.catalog.errors import CapReachedError, CatalogConflictError, CatalogError, CatalogNotFoundError
from earnloop.catalog.games import get_milestone
from earnloop.catalog.models import catalog_campaigns as campaigns
from earnloop.catalog.models import catalog_games as games
from earnloop.catalog.models import catalog_merchant_rates as rates
from earnloop.catalog.models import catalog_merchants as merchants
from earnloop.catalog.usage import used as uses_of
from earnloop.catalog.validation import AMOUNT_MAX, TWO_X_BPS
from earnloop.ledger.service import LedgerService
from earnloop.wallet.cashback.service import Funding
from earnloop.wallet.chart import AccountKind

DEFAULT_RATE_CATEGORY = "default"


@dataclass(frozen=True)
class BonusPart:
    campaign_id: int
    campaign_key: str
    multiplier_bps: int
    fixed_bonus: int
    wanted: int  # the bonus before cap and budget
    amount: int  # what to pay
    status: str  # applied | partial | cap_reached | budget_exhausted
    budget_mode: str
    budget_remaining: int
    used: int
    cap: int | None
    funding: Funding


@dataclass(frozen=True)
class Pricing:
    currency: str
    base_amount: int
    base_funding: Funding
    bonuses: list[BonusPart] = field(default_factory=list)
    milestone_id: int | None = None
    milestone_used: int | None = None
    milestone_limit: int | None = None
    rate_bps: int | None = None

    @property
    def bonus_amount(self) -> int:
        return sum(b.amount for b in self.bonuses)

    @property
    def total(self) -> int:
        return self.base_amount + self.bonus_amount

    @property
    def two_x_zone(self) -> bool:
        return any(b.multiplier_bps >= TWO_X_BPS and b.amount > 0 for b in self.bonuses)

    def as_dict(self) -> dict[str, Any]:
        def funding(f: Funding) -> dict[str, Any]:
            return {"kind": AccountKind(f.kind).name.lower(), "owner": f.owner}

        answer = asdict(self)
        answer["base_funding"] = funding(self.base_funding)
        for part, bonus in zip(answer["bonuses"], self.bonuses, strict=True):
            part["funding"] = funding(bonus.funding)
        answer.update(bonus_amount=self.bonus_amount, total=self.total, two_x_zone=self.two_x_zone)
        return answer


def price_reward(
    conn: Connection,
    ledger: LedgerService,
    *,
    user_id: int,
    at_ns: int,
    game_id: int | None = None,
    milestone_id: int | None = None,
    merchant_id: int | None = None,
    base_amount: int | None = None,
    category: str | None = None,
) -> Pricing:
    """Price a game milestone (``milestone_id``, optionally ``game_id`` to check it belongs) or a
    merchant purchase (``merchant_id`` + ``base_amount`` = the purchase in minor units, ``category``
    chooses the cashback rate; default the merchant's own category, then ``default``)."""
    if (merchant_id is None) == (milestone_id is None):
        raise CatalogError(
            "price either a milestone (milestone_id) or a purchase (merchant_id + base_amount)"
        )
    if milestone_id is not None:
        milestone = get_milestone(conn, milestone_id)
        if game_id is not None and milestone.game_id != game_id:
            raise CatalogNotFoundError(f"milestone {milestone_id} is not part of game {game_id}")
        game = conn.execute(select(games).where(games.c.id == milestone.game_id)).one()
        if game.status != "active":
            raise CatalogConflictError(f"game {game.key!r} is {game.status}, not active")
        used = uses_of(conn, "milestone", milestone.id, user_id)
        if used >= milestone.per_user_limit:
            raise CapReachedError(
                f"user {user_id} already earned milestone {milestone.key!r} {used} time(s) (limit)"
            )
        return price_milestone(
            conn, ledger, user_id=user_id, at_ns=at_ns, game=game, milestone=milestone, used=used
        )
    assert merchant_id is not None
    merchant = conn.execute(select(merchants).where(merchants.c.id == merchant_id)).first()
    if merchant is None:
        raise CatalogNotFoundError(f"no merchant {merchant_id}")
    if not isinstance(base_amount, int) or isinstance(base_amount, bool) or not 0 < base_amount <= AMOUNT_MAX:
        raise CatalogError("base_amount (the purchase, minor units) must be a positive integer")
    table = dict(
        conn.execute(
            select(rates.c.category, rates.c.rate_bps).where(rates.c.merchant_id == merchant_id)
        ).all()
    )
    wanted = category or merchant.category
    rate = table.get(wanted, table.get(DEFAULT_RATE_CATEGORY))
    if rate is None:
        raise CatalogError(f"merchant {merchant.key!r} has no cashback rate for {wanted!r}")
    base = base_amount * rate // 10_000
    funding = Funding(AccountKind.PARTNER_FUNDING, merchant.partner_id)
    bonuses = _bonuses(conn, ledger, user_id, at_ns, "merchant", merchant.id, merchant.currency, base)
    return Pricing(merchant.currency, base, funding, bonuses, rate_bps=rate)


def price_milestone(
    conn: Connection, ledger: LedgerService, *, user_id: int, at_ns: int, game: Any, milestone: Any, used: int
) -> Pricing:
    """Price an earnable milestone from rows the caller has just read and checked (the earn engine:
    the game is active, the milestone is one of its own and the user has ``used`` it fewer times than
    its limit)."""
    base = int(milestone.reward_amount)
    funding = (
        Funding(AccountKind.PARTNER_FUNDING, game.publisher_id)
        if game.publisher_id
        else Funding(AccountKind.OPERATOR_FUNDING, 0)
    )
    bonuses = _bonuses(conn, ledger, user_id, at_ns, "game", game.id, game.currency, base)
    return Pricing(game.currency, base, funding, bonuses, milestone.id, used, milestone.per_user_limit)


def _bonuses(
    conn: Connection,
    ledger: LedgerService,
    user_id: int,
    at_ns: int,
    target_kind: str,
    target_id: int,
    currency_code: str,
    base: int,
) -> list[BonusPart]:
    parts: list[BonusPart] = []
    for c in campaigns_targeting(conn, at_ns, target_kind, target_id):
        if c.currency != currency_code:
            continue
        wanted = base * (c.multiplier_bps - 10_000) // 10_000 + c.fixed_bonus
        used = uses_of(conn, "campaign", c.id, user_id)
        remaining = budget_remaining(conn, ledger, c.id, c.currency)
        amount, status = _settle(wanted, remaining, c.budget_mode, used, c.per_user_cap)
        parts.append(
            BonusPart(
                campaign_id=c.id,
                campaign_key=c.key,
                multiplier_bps=c.multiplier_bps,
                fixed_bonus=c.fixed_bonus,
                wanted=wanted,
                amount=amount,
                status=status,
                budget_mode=c.budget_mode,
                budget_remaining=remaining,
                used=used,
                cap=c.per_user_cap,
                funding=Funding(AccountKind.CAMPAIGN_BUDGET, c.id),
            )
        )
    return parts


def _settle(wanted: int, remaining: int, budget_mode: str, used: int, cap: int | None) -> tuple[int, str]:
    """(amount, status) of one bonus given what is left of the budget and of the user's cap."""
    if cap is not None and used >= cap:
        return 0, "cap_reached"
    if wanted <= remaining:
        return wanted, "applied"
    if budget_mode == "pay_partial" and remaining > 0:
        return remaining, "partial"
    return 0, "budget_exhausted"


def reprice_bonus(conn: Connection, ledger: LedgerService, part: BonusPart) -> BonusPart:
    """The same bonus priced again against the campaign budget left *now* (the earn engine calls it
    when the ledger refused the first amount because a concurrent reward used the budget meanwhile)."""
    currency_code = conn.execute(
        select(campaigns.c.currency).where(campaigns.c.id == part.campaign_id)
    ).scalar_one()
    remaining = budget_remaining(conn, ledger, part.campaign_id, currency_code)
    amount, status = _settle(part.wanted, remaining, part.budget_mode, part.used, part.cap)
    return replace(part, amount=amount, status=status, budget_remaining=remaining)
