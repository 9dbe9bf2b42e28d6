"""Catalog campaigns: upsert by external key with their targets (game and merchant keys), read them
back with what is left of their budget, the active campaigns targeting a game or merchant (pricing),
and funding a campaign budget (never above its total; the wallet's ``budgets`` moves the money).

Every function takes the caller's connection and never commits.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from earnloop.catalog.errors import CatalogConflictError, CatalogNotFoundError
from earnloop.catalog.models import catalog_campaign_targets as targets
from earnloop.catalog.models import catalog_campaigns as campaigns
from earnloop.catalog.models import catalog_games as games
from earnloop.catalog.models import catalog_merchants as merchants
from earnloop.catalog.validation import TWO_X_BPS, CampaignSpec, campaign_spec, invalid
from earnloop.currencies import currency
from earnloop.db import driver
from earnloop.idempotency import service as idem
from earnloop.ledger.service import LedgerService
from earnloop.wallet.budgets import CAMPAIGN_FUNDING_CODE, budget_account, budget_remaining, fund_budget
from earnloop.wallet.service import check_amount

__all__ = ["CAMPAIGN_FUNDING_CODE", "budget_account", "budget_remaining"]


def upsert_campaign(conn: Connection, raw: dict[str, Any]) -> dict[str, Any]:
    """Create or update a campaign by ``key`` with its targets (game and merchant keys)."""
    spec, problems = campaign_spec(raw)
    if spec is None:
        raise invalid(problems)
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
        raise invalid(problems)
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
    xfer_id = fund_budget(
        conn,
        ledger,
        campaign_id=campaign_id,
        currency_code=cur.code,
        amount=amount,
        scope=scope,
        idempotency_key=idempotency_key,
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
