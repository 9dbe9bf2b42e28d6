"""Catalog service: upsert merchants, games (with milestones) and campaigns by their external key,
read them back, fund campaign budgets through the ledger, and record per-user uses under a cap.

Every function takes the caller's connection and never commits. Lookups of related rows (partner,
targets) happen before any write, so a refused request changes nothing.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, text, update

from earnloop.auth.service import get_partner, user_exists
from earnloop.catalog.errors import CapReachedError, CatalogConflictError, CatalogError, CatalogNotFoundError
from earnloop.catalog.models import (
    catalog_campaign_targets as targets,
)
from earnloop.catalog.models import (
    catalog_campaigns as campaigns,
)
from earnloop.catalog.models import (
    catalog_games as games,
)
from earnloop.catalog.models import (
    catalog_merchant_rates as rates,
)
from earnloop.catalog.models import (
    catalog_merchant_tax_ids as tax_ids,
)
from earnloop.catalog.models import (
    catalog_merchants as merchants,
)
from earnloop.catalog.models import (
    catalog_milestones as milestones,
)
from earnloop.catalog.models import catalog_usage as usage
from earnloop.catalog.models import catalog_usage_refs as usage_refs
from earnloop.catalog.validation import (
    TWO_X_BPS,
    CampaignSpec,
    GameSpec,
    MerchantSpec,
    campaign_spec,
    game_spec,
    merchant_spec,
)
from earnloop.currencies import currency
from earnloop.db import driver
from earnloop.idempotency import service as idem
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import Transfer
from earnloop.wallet.chart import AccountKind, AccountRef, transfer_id
from earnloop.wallet.ledger_ops import balance_of, ensure_accounts, submit
from earnloop.wallet.service import check_amount, system_account

# Ledger ``code`` of a campaign funding transfer (operator → campaign budget); not a wallet movement.
CAMPAIGN_FUNDING_CODE = 70
SUBJECTS = frozenset({"campaign", "milestone"})


def _join(items: list[str]) -> str:
    return ",".join(items)


def _split(text: str) -> list[str]:
    return [w for w in text.split(",") if w]


def _invalid(problems: list[tuple[str, str]]) -> CatalogError:
    return CatalogError("; ".join(f"{name}: {message}" for name, message in problems))


# -- merchants ----------------------------------------------------------------------------------------
def merchant_problems(conn: Connection, spec: MerchantSpec) -> list[tuple[str, str]]:
    """What the database says against a valid-looking merchant (partner, tax ids owned elsewhere)."""
    problems: list[tuple[str, str]] = []
    partner = get_partner(conn, spec.partner_id)
    if partner is None:
        problems.append(("partner_id", f"no partner {spec.partner_id}"))
    elif partner.kind != "merchant":
        problems.append(("partner_id", f"partner {spec.partner_id} is a {partner.kind}, not a merchant"))
    owner = conn.execute(select(merchants.c.key).where(merchants.c.partner_id == spec.partner_id)).first()
    if owner is not None and owner.key != spec.key:
        problems.append(("partner_id", f"partner {spec.partner_id} already has merchant {owner.key!r}"))
    if spec.tax_ids:
        taken = conn.execute(
            select(tax_ids.c.tax_id, merchants.c.key)
            .join(merchants, merchants.c.id == tax_ids.c.merchant_id)
            .where(tax_ids.c.tax_id.in_(spec.tax_ids), merchants.c.key != spec.key)
        ).all()
        problems.extend(("tax_ids", f"{t.tax_id} belongs to merchant {t.key!r}") for t in taken)
    return problems


def upsert_merchant_spec(conn: Connection, spec: MerchantSpec) -> tuple[int, bool]:
    """Write a validated merchant (checked with :func:`merchant_problems`); (id, created)."""
    partner = get_partner(conn, spec.partner_id)
    assert partner is not None
    now = time.time_ns()
    values = {
        "partner_id": spec.partner_id,
        "name": spec.name,
        "category": spec.category,
        "logo_url": spec.logo_url,
        "tracking_template": spec.tracking_template,
        "currency": partner.settlement_currency,
        "lock_period_days": spec.lock_period_days,
        "payout_terms": spec.payout_terms,
        "updated_at_ns": now,
    }
    existing = conn.execute(select(merchants.c.id).where(merchants.c.key == spec.key)).first()
    if existing is None:
        merchant_id = int(
            conn.execute(
                insert(merchants).values(key=spec.key, created_at_ns=now, **values).returning(merchants.c.id)
            ).scalar_one()
        )
    else:
        merchant_id = int(existing.id)
        conn.execute(update(merchants).where(merchants.c.id == merchant_id).values(**values))
        conn.execute(delete(tax_ids).where(tax_ids.c.merchant_id == merchant_id))
        conn.execute(delete(rates).where(rates.c.merchant_id == merchant_id))
    if spec.tax_ids:
        conn.execute(insert(tax_ids), [{"tax_id": t, "merchant_id": merchant_id} for t in spec.tax_ids])
    if spec.rates:
        conn.execute(
            insert(rates),
            [{"merchant_id": merchant_id, "category": c, "rate_bps": b} for c, b in spec.rates.items()],
        )
    return merchant_id, existing is None


def upsert_merchant(conn: Connection, raw: dict[str, Any]) -> dict[str, Any]:
    """Create or update a merchant by ``key``; invalid input → :class:`CatalogError`, nothing changed."""
    spec, problems = merchant_spec(raw)
    if spec is None:
        raise _invalid(problems)
    problems = merchant_problems(conn, spec)
    if problems:
        raise _invalid(problems)
    merchant_id, _ = upsert_merchant_spec(conn, spec)
    return get_merchant(conn, merchant_id)


def _merchant_dict(conn: Connection, row: Any) -> dict[str, Any]:
    ids = conn.execute(
        select(tax_ids.c.tax_id).where(tax_ids.c.merchant_id == row.id).order_by(tax_ids.c.tax_id)
    ).scalars()
    rate_rows = conn.execute(
        select(rates.c.category, rates.c.rate_bps)
        .where(rates.c.merchant_id == row.id)
        .order_by(rates.c.category)
    )
    return {
        "merchant_id": row.id,
        "key": row.key,
        "partner_id": row.partner_id,
        "name": row.name,
        "category": row.category,
        "logo_url": row.logo_url,
        "tracking_template": row.tracking_template,
        "currency": row.currency,
        "tax_ids": list(ids),
        "rates": {r.category: r.rate_bps for r in rate_rows},
        "lock_period_days": row.lock_period_days,
        "payout_terms": row.payout_terms,
    }


def get_merchant(conn: Connection, merchant_id: int) -> dict[str, Any]:
    row = conn.execute(select(merchants).where(merchants.c.id == merchant_id)).first()
    if row is None:
        raise CatalogNotFoundError(f"no merchant {merchant_id}")
    return _merchant_dict(conn, row)


def list_merchants(conn: Connection, *, category: str | None = None) -> list[dict[str, Any]]:
    query = select(merchants).order_by(merchants.c.key)
    if category:
        query = query.where(merchants.c.category == category)
    return [_merchant_dict(conn, row) for row in conn.execute(query).all()]


def merchant_for_tax_id(conn: Connection, tax_id: str) -> dict[str, Any] | None:
    """The merchant selling under a seller tax id (e-invoice matching)."""
    row = conn.execute(
        select(merchants)
        .join(tax_ids, tax_ids.c.merchant_id == merchants.c.id)
        .where(tax_ids.c.tax_id == tax_id)
    ).first()
    return None if row is None else _merchant_dict(conn, row)


# -- games --------------------------------------------------------------------------------------------
def game_problems(conn: Connection, spec: GameSpec) -> list[tuple[str, str]]:
    if spec.publisher_id is None:
        return []
    partner = get_partner(conn, spec.publisher_id)
    if partner is None:
        return [("publisher_id", f"no partner {spec.publisher_id}")]
    return []


def upsert_game_spec(conn: Connection, spec: GameSpec) -> tuple[int, bool, int, int]:
    """Write a validated game and upsert its milestones by key (milestones not listed are kept).
    Returns (game id, created, milestones created, milestones updated)."""
    now = time.time_ns()
    values = {
        "title": spec.title,
        "platforms": _join(spec.platforms),
        "app_store_id": spec.app_store_id,
        "play_package": spec.play_package,
        "tracking_provider": spec.tracking_provider,
        "tags": _join(spec.tags),
        "status": spec.status,
        "currency": spec.currency,
        "publisher_id": spec.publisher_id,
        "lock_period_days": spec.lock_period_days,
        "updated_at_ns": now,
    }
    existing = conn.execute(select(games.c.id).where(games.c.key == spec.key)).first()
    if existing is None:
        game_id = int(
            conn.execute(
                insert(games).values(key=spec.key, created_at_ns=now, **values).returning(games.c.id)
            ).scalar_one()
        )
        known: dict[str, int] = {}
    else:
        game_id = int(existing.id)
        conn.execute(update(games).where(games.c.id == game_id).values(**values))
        known = {
            r.key: r.id
            for r in conn.execute(
                select(milestones.c.key, milestones.c.id).where(milestones.c.game_id == game_id)
            )
        }
    created = updated = 0
    for m in spec.milestones:
        m_values = {
            "title": m.title,
            "goal": m.goal,
            "within_days": m.within_days,
            "reward_amount": m.reward_amount,
            "per_user_limit": m.per_user_limit,
            "position": m.position,
        }
        if m.key in known:
            conn.execute(update(milestones).where(milestones.c.id == known[m.key]).values(**m_values))
            updated += 1
        else:
            conn.execute(insert(milestones).values(game_id=game_id, key=m.key, **m_values))
            created += 1
    return game_id, existing is None, created, updated


def upsert_game(conn: Connection, raw: dict[str, Any]) -> dict[str, Any]:
    spec, problems = game_spec(raw)
    if spec is None:
        raise _invalid(problems)
    problems = game_problems(conn, spec)
    if problems:
        raise _invalid(problems)
    game_id, *_ = upsert_game_spec(conn, spec)
    return get_game(conn, game_id)


def _milestone_dict(row: Any) -> dict[str, Any]:
    return {
        "milestone_id": row.id,
        "key": row.key,
        "title": row.title,
        "goal": row.goal,
        "within_days": row.within_days,
        "reward_amount": row.reward_amount,
        "per_user_limit": row.per_user_limit,
        "position": row.position,
    }


def _game_dict(row: Any, milestone_rows: list[Any]) -> dict[str, Any]:
    return {
        "game_id": row.id,
        "key": row.key,
        "title": row.title,
        "platforms": _split(row.platforms),
        "app_store_id": row.app_store_id,
        "play_package": row.play_package,
        "tracking_provider": row.tracking_provider,
        "tags": _split(row.tags),
        "status": row.status,
        "currency": row.currency,
        "publisher_id": row.publisher_id,
        "lock_period_days": row.lock_period_days,
        "milestones": [_milestone_dict(m) for m in milestone_rows],
    }


def list_games(
    conn: Connection, *, status: str | None = None, tag: str | None = None, platform: str | None = None
) -> list[dict[str, Any]]:
    """Games (ordered by key) with their milestones (ordered by position)."""
    query = select(games).order_by(games.c.key)
    if status:
        query = query.where(games.c.status == status)
    rows = conn.execute(query).all()
    if tag:
        rows = [r for r in rows if tag in _split(r.tags)]
    if platform:
        rows = [r for r in rows if platform in _split(r.platforms)]
    by_game: dict[int, list[Any]] = {r.id: [] for r in rows}
    if by_game:
        for m in conn.execute(
            select(milestones)
            .where(milestones.c.game_id.in_(list(by_game)))
            .order_by(milestones.c.position, milestones.c.key)
        ):
            by_game[m.game_id].append(m)
    return [_game_dict(r, by_game[r.id]) for r in rows]


def get_game(conn: Connection, game_id: int) -> dict[str, Any]:
    row = conn.execute(select(games).where(games.c.id == game_id)).first()
    if row is None:
        raise CatalogNotFoundError(f"no game {game_id}")
    ms = conn.execute(
        select(milestones)
        .where(milestones.c.game_id == game_id)
        .order_by(milestones.c.position, milestones.c.key)
    ).all()
    return _game_dict(row, list(ms))


def get_milestone(conn: Connection, milestone_id: int) -> Any:
    row = conn.execute(select(milestones).where(milestones.c.id == milestone_id)).first()
    if row is None:
        raise CatalogNotFoundError(f"no milestone {milestone_id}")
    return row


# -- campaigns ----------------------------------------------------------------------------------------
def upsert_campaign(conn: Connection, raw: dict[str, Any]) -> dict[str, Any]:
    """Create or update a campaign by ``key`` with its targets (game and merchant keys)."""
    spec, problems = campaign_spec(raw)
    if spec is None:
        raise _invalid(problems)
    return get_campaign(conn, _write_campaign(conn, spec))


def _write_campaign(conn: Connection, spec: CampaignSpec) -> int:
    found_games = dict(
        conn.execute(select(games.c.key, games.c.id).where(games.c.key.in_(spec.game_keys))).all()
    )
    found_merchants = dict(
        conn.execute(
            select(merchants.c.key, merchants.c.id).where(merchants.c.key.in_(spec.merchant_keys))
        ).all()
    )
    problems = [("games", f"no game {k!r}") for k in spec.game_keys if k not in found_games]
    problems += [("merchants", f"no merchant {k!r}") for k in spec.merchant_keys if k not in found_merchants]
    existing = conn.execute(select(campaigns).where(campaigns.c.key == spec.key)).first()
    if existing is not None:
        if existing.currency != spec.currency:
            problems.append(("currency", "a funded campaign keeps its currency"))
        if spec.budget_total < existing.funded:
            problems.append(("budget_total", f"below what is already funded ({existing.funded})"))
    if problems:
        raise _invalid(problems)
    now = time.time_ns()
    values = {
        "name": spec.name,
        "currency": spec.currency,
        "multiplier_bps": spec.multiplier_bps,
        "fixed_bonus": spec.fixed_bonus,
        "starts_at_ns": spec.starts_at_ns,
        "ends_at_ns": spec.ends_at_ns,
        "per_user_cap": spec.per_user_cap,
        "budget_total": spec.budget_total,
        "budget_mode": spec.budget_mode,
        "status": spec.status,
        "updated_at_ns": now,
    }
    if existing is None:
        campaign_id = int(
            conn.execute(
                insert(campaigns)
                .values(key=spec.key, funded=0, created_at_ns=now, **values)
                .returning(campaigns.c.id)
            ).scalar_one()
        )
    else:
        campaign_id = int(existing.id)
        conn.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(**values))
        conn.execute(delete(targets).where(targets.c.campaign_id == campaign_id))
    rows = [{"campaign_id": campaign_id, "target_kind": "game", "target_id": i} for i in found_games.values()]
    rows += [
        {"campaign_id": campaign_id, "target_kind": "merchant", "target_id": i}
        for i in found_merchants.values()
    ]
    conn.execute(insert(targets), rows)
    return campaign_id


def budget_account(campaign_id: int, currency_code: str) -> AccountRef:
    return AccountRef(AccountKind.CAMPAIGN_BUDGET, campaign_id, currency(currency_code))


def budget_remaining(conn: Connection, ledger: LedgerService, campaign_id: int, currency_code: str) -> int:
    """Available in the campaign's ledger budget: posted credits − posted debits − pending debits."""
    account = balance_of(conn, ledger, budget_account(campaign_id, currency_code))
    if account is None:
        return 0
    return account.credits_posted - account.debits_posted - account.debits_pending


def _campaign_dict(conn: Connection, row: Any, remaining: int | None = None) -> dict[str, Any]:
    target_rows = conn.execute(
        select(targets.c.target_kind, targets.c.target_id).where(targets.c.campaign_id == row.id)
    ).all()
    game_ids = [t.target_id for t in target_rows if t.target_kind == "game"]
    merchant_ids = [t.target_id for t in target_rows if t.target_kind == "merchant"]
    game_keys = conn.execute(
        select(games.c.key).where(games.c.id.in_(game_ids)).order_by(games.c.key)
    ).scalars()
    merchant_keys = conn.execute(
        select(merchants.c.key).where(merchants.c.id.in_(merchant_ids)).order_by(merchants.c.key)
    ).scalars()
    answer = {
        "campaign_id": row.id,
        "key": row.key,
        "name": row.name,
        "currency": row.currency,
        "multiplier_bps": row.multiplier_bps,
        "fixed_bonus": row.fixed_bonus,
        "two_x_zone": row.multiplier_bps >= TWO_X_BPS,
        "starts_at_ns": row.starts_at_ns,
        "ends_at_ns": row.ends_at_ns,
        "per_user_cap": row.per_user_cap,
        "budget_total": row.budget_total,
        "funded": row.funded,
        "budget_mode": row.budget_mode,
        "status": row.status,
        "games": list(game_keys),
        "merchants": list(merchant_keys),
    }
    if remaining is not None:
        answer["budget_remaining"] = remaining
    return answer


def get_campaign(conn: Connection, campaign_id: int, ledger: LedgerService | None = None) -> dict[str, Any]:
    row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).first()
    if row is None:
        raise CatalogNotFoundError(f"no campaign {campaign_id}")
    remaining = None if ledger is None else budget_remaining(conn, ledger, row.id, row.currency)
    return _campaign_dict(conn, row, remaining)


def active_campaign_rows(
    conn: Connection, at_ns: int, *, target_kind: str | None = None, target_ids: list[int] | None = None
) -> list[Any]:
    query = select(campaigns).where(
        campaigns.c.status == "active", campaigns.c.starts_at_ns <= at_ns, campaigns.c.ends_at_ns > at_ns
    )
    if target_kind is not None and target_ids is not None:
        query = query.where(
            campaigns.c.id.in_(
                select(targets.c.campaign_id).where(
                    targets.c.target_kind == target_kind, targets.c.target_id.in_(target_ids)
                )
            )
        )
    return list(conn.execute(query.order_by(campaigns.c.id)).all())


_CAMPAIGNS_TARGETING = (
    select(campaigns)
    .where(
        campaigns.c.status == "active",
        campaigns.c.starts_at_ns <= bindparam("at_ns"),
        campaigns.c.ends_at_ns > bindparam("at_ns"),
        campaigns.c.id.in_(
            select(targets.c.campaign_id).where(
                targets.c.target_kind == bindparam("target_kind"),
                targets.c.target_id == bindparam("target_id"),
            )
        ),
    )
    .order_by(campaigns.c.id)
)


def campaigns_targeting(conn: Connection, at_ns: int, target_kind: str, target_id: int) -> list[Any]:
    """The campaign rows active at ``at_ns`` that target this game or merchant (the earn engine's
    pricing: :func:`active_campaign_rows` for one target)."""
    params = {"at_ns": at_ns, "target_kind": target_kind, "target_id": target_id}
    return driver.rows(conn, _CAMPAIGNS_TARGETING, params)


def list_campaigns(
    conn: Connection, ledger: LedgerService | None = None, *, active_at_ns: int | None = None
) -> list[dict[str, Any]]:
    if active_at_ns is not None:
        rows = active_campaign_rows(conn, active_at_ns)
    else:
        rows = list(conn.execute(select(campaigns).order_by(campaigns.c.id)).all())
    return [
        _campaign_dict(conn, r, None if ledger is None else budget_remaining(conn, ledger, r.id, r.currency))
        for r in rows
    ]


def fund_campaign(
    conn: Connection, ledger: LedgerService, campaign_id: int, amount: int, idempotency_key: str
) -> dict[str, Any]:
    """Move ``amount`` OPERATOR_FUNDING → CAMPAIGN_BUDGET(campaign) through the ledger. Total funding
    never exceeds ``budget_total`` (guarded UPDATE). Same key + body → the same answer."""
    scope = "catalog.fund_campaign"
    request = {"campaign_id": campaign_id, "amount": amount}
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        return replay
    check_amount(amount)
    row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).first()
    if row is None:
        raise CatalogNotFoundError(f"no campaign {campaign_id}")
    guarded = conn.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id, campaigns.c.funded + amount <= campaigns.c.budget_total)
        .values(funded=campaigns.c.funded + amount, updated_at_ns=time.time_ns())
    )
    if guarded.rowcount != 1:
        raise CatalogConflictError(
            f"funding {amount} would exceed the campaign's total budget "
            f"({row.funded} of {row.budget_total} funded)"
        )
    cur = currency(row.currency)
    operator, budget = (
        system_account(AccountKind.OPERATOR_FUNDING, cur),
        budget_account(campaign_id, cur.code),
    )
    ensure_accounts(conn, ledger, [operator, budget])
    xfer_id = transfer_id(scope, idempotency_key)
    submit(
        conn,
        ledger,
        [
            Transfer(
                id=xfer_id,
                debit_account_id=operator.id,
                credit_account_id=budget.id,
                amount=amount,
                ledger=cur.ledger,
                code=CAMPAIGN_FUNDING_CODE,
                user_data_64=campaign_id,
            )
        ],
    )
    answer = {
        "transfer_id": str(xfer_id),
        "campaign_id": campaign_id,
        "amount": amount,
        "currency": cur.code,
        "funded": row.funded + amount,
        "budget_remaining": budget_remaining(conn, ledger, campaign_id, cur.code),
    }
    return idem.complete(conn, scope, idempotency_key, answer)


# -- usage (called by the earn engine) ----------------------------------------------------------------
# The earn engine's statements are built once (the claims are the same SQL on SQLite and PostgreSQL)
# and run on the driver (``earnloop.db.driver``).
_USED = select(usage.c.used).where(
    usage.c.subject == bindparam("subject"),
    usage.c.subject_id == bindparam("subject_id"),
    usage.c.user_id == bindparam("user_id"),
)
_MILESTONES_WITH_USES = (
    select(milestones, func.coalesce(usage.c.used, 0).label("used"))
    .outerjoin(
        usage,
        and_(
            usage.c.subject == "milestone",
            usage.c.subject_id == milestones.c.id,
            usage.c.user_id == bindparam("user_id"),
        ),
    )
    .where(milestones.c.game_id == bindparam("game_id"))
    .order_by(milestones.c.position, milestones.c.key)
)
_CLAIM_REF = text(
    "INSERT INTO catalog_usage_refs (subject, subject_id, ref, user_id, amount, created_at_ns)"
    " VALUES (:subject, :subject_id, :ref, :user_id, :amount, :created_at_ns)"
    " ON CONFLICT DO NOTHING RETURNING ref"
)
_SEEN_REF = select(usage_refs.c.user_id, usage_refs.c.amount).where(
    usage_refs.c.subject == bindparam("subject"),
    usage_refs.c.subject_id == bindparam("subject_id"),
    usage_refs.c.ref == bindparam("ref"),
)
_COUNT_USE = (
    "INSERT INTO catalog_usage (subject, subject_id, user_id, used)"
    " VALUES (:subject, :subject_id, :user_id, 1)"
    " ON CONFLICT (subject, subject_id, user_id) DO UPDATE SET used = catalog_usage.used + 1"
)
_COUNT_USE_UNCAPPED = text(f"{_COUNT_USE} RETURNING used")
_COUNT_USE_CAPPED = text(f"{_COUNT_USE} WHERE catalog_usage.used < :cap RETURNING used")


def used(conn: Connection, subject: str, subject_id: int, user_id: int) -> int:
    params = {"subject": subject, "subject_id": subject_id, "user_id": user_id}
    return int(driver.scalar(conn, _USED, params) or 0)


def milestones_with_uses(conn: Connection, game_id: int, user_id: int) -> list[Any]:
    """The game's milestone rows in order (position, key), each with ``used``: how many times the
    user earned it."""
    return driver.rows(conn, _MILESTONES_WITH_USES, {"game_id": game_id, "user_id": user_id})


def uses_with_ref_prefix(conn: Connection, subject: str, prefix: str) -> list[dict[str, Any]]:
    """Recorded uses whose reference starts with ``prefix`` (e.g. every campaign bonus of one reward),
    by subject id."""
    rows = conn.execute(
        select(usage_refs)
        .where(usage_refs.c.subject == subject, usage_refs.c.ref.startswith(prefix, autoescape=True))
        .order_by(usage_refs.c.subject_id, usage_refs.c.ref)
    )
    return [
        {"subject_id": r.subject_id, "ref": r.ref, "user_id": r.user_id, "amount": r.amount} for r in rows
    ]


def _cap_of(conn: Connection, subject: str, subject_id: int) -> int | None:
    if subject == "campaign":
        row = conn.execute(select(campaigns.c.per_user_cap).where(campaigns.c.id == subject_id)).first()
        if row is None:
            raise CatalogNotFoundError(f"no campaign {subject_id}")
        return None if row.per_user_cap is None else int(row.per_user_cap)
    return int(get_milestone(conn, subject_id).per_user_limit)


def _check_use(subject: str, ref: str, amount: int) -> None:
    if subject not in SUBJECTS:
        raise CatalogError(f"subject must be one of {', '.join(sorted(SUBJECTS))}")
    if not 0 < len(ref) <= 200:
        raise CatalogError("ref: 1–200 characters")
    if not isinstance(amount, int) or amount < 0:
        raise CatalogError("amount must be ≥ 0 minor units")


def record_use(
    conn: Connection, *, subject: str, subject_id: int, user_id: int, ref: str, amount: int = 0
) -> dict[str, Any]:
    """Count one use of a campaign bonus or milestone by a user, idempotent on ``ref`` (the earn
    engine's reward reference). The increment is one guarded upsert (``used < cap``), so concurrent
    uses can never exceed the cap: the loser gets :class:`CapReachedError` (409)."""
    _check_use(subject, ref, amount)
    cap = _cap_of(conn, subject, subject_id)
    if not user_exists(conn, user_id):
        raise CatalogNotFoundError(f"no user {user_id}")
    return count_use(
        conn, subject=subject, subject_id=subject_id, user_id=user_id, ref=ref, amount=amount, cap=cap
    )


def count_use(
    conn: Connection, *, subject: str, subject_id: int, user_id: int, ref: str, amount: int, cap: int | None
) -> dict[str, Any]:
    """:func:`record_use` for a caller that has just read the subject's ``cap`` in this transaction and
    knows the user exists (the earn engine, after pricing): the same idempotent, guarded count."""
    _check_use(subject, ref, amount)
    key = {"subject": subject, "subject_id": subject_id}
    # Claim the reference first: on PostgreSQL a concurrent duplicate waits here for the first one.
    claimed = driver.first(
        conn,
        _CLAIM_REF,
        {**key, "ref": ref, "user_id": user_id, "amount": amount, "created_at_ns": time.time_ns()},
    )
    if claimed is None:
        seen = driver.first(conn, _SEEN_REF, {**key, "ref": ref})
        if (seen.user_id, seen.amount) != (user_id, amount):
            raise CatalogConflictError(f"use {ref!r} was recorded with different fields")
        count = used(conn, subject, subject_id, user_id)
    else:
        statement, params = _COUNT_USE_UNCAPPED, {**key, "user_id": user_id}
        if cap is not None:
            statement, params = _COUNT_USE_CAPPED, {**params, "cap": cap}
        counted = driver.first(conn, statement, params)
        if counted is None:
            raise CapReachedError(f"user {user_id} reached the limit of {cap} for {subject} {subject_id}")
        count = int(counted.used)
    return {**key, "user_id": user_id, "ref": ref, "used": count, "cap": cap}
