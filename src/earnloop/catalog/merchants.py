"""Catalog merchants: upsert by external key (partner, seller tax ids, cashback rates by category, lock
period), read them back, find the merchant selling under a tax id, and the earn paths' merchant reads.

Every function takes the caller's connection and never commits. Lookups of related rows happen before
any write, so a refused request changes nothing.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from earnloop.auth.service import get_partner
from earnloop.catalog.errors import CatalogNotFoundError
from earnloop.catalog.models import catalog_merchant_rates as rates
from earnloop.catalog.models import catalog_merchant_tax_ids as tax_ids
from earnloop.catalog.models import catalog_merchants as merchants
from earnloop.catalog.validation import MerchantSpec, invalid, merchant_spec


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
        raise invalid(problems)
    problems = merchant_problems(conn, spec)
    if problems:
        raise invalid(problems)
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


def merchant_exists(conn: Connection, merchant_id: int) -> bool:
    """Whether a merchant has this id (the affiliate postback's first check)."""
    return conn.execute(select(merchants.c.id).where(merchants.c.id == merchant_id)).first() is not None
