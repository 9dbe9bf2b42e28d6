"""Deposit policies: the deposit amount of a merchant's product per currency (admin-managed), and
per-user overrides of it. ``min_credit_score``: users whose credit score reaches it need no deposit
(decided by the caller's waiver, :mod:`earnloop.wallet.holds.waivers`).
:mod:`earnloop.wallet.holds.service` holds the amounts these decide."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, delete, select

from earnloop.auth.service import user_exists
from earnloop.currencies import currency
from earnloop.db.upsert import dialect_insert
from earnloop.wallet.errors import InvalidAmountError, NotFoundError, StateConflictError
from earnloop.wallet.escrow.service import require_merchant
from earnloop.wallet.holds.models import deposit_policies as policies
from earnloop.wallet.holds.models import deposit_policy_overrides as overrides
from earnloop.wallet.holds.schemas import Override, Policy
from earnloop.wallet.service import REASON_MAX_LEN, check_amount

PRODUCT_MAX_LEN = 64
CREDIT_SCORE_MAX = 1_000


def check_product(product: str) -> str:
    if not isinstance(product, str) or not 0 < len(product) <= PRODUCT_MAX_LEN or product != product.strip():
        raise InvalidAmountError(f"product must be 1–{PRODUCT_MAX_LEN} characters without surrounding spaces")
    return product


def _upsert(conn: Connection, table: Any, keys: list[str], values: dict[str, Any]) -> None:
    insert_ = dialect_insert(conn, table)
    statement = insert_.values(**values)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=keys, set_={k: statement.excluded[k] for k in values if k not in keys}
        )
    )


def policy_dict(row: Any) -> Policy:
    return {
        "product": row.product,
        "currency": row.currency,
        "partner_id": row.partner_id,
        "amount": row.amount,
        "min_credit_score": row.min_credit_score,
        "updated_at_ns": row.updated_at_ns,
    }


def set_policy(
    conn: Connection,
    *,
    product: str,
    currency_code: str,
    partner_id: int,
    amount: int,
    min_credit_score: int | None = None,
) -> Policy:
    """Create or replace the deposit policy of a merchant's product in one currency (admin)."""
    check_product(product)
    cur = currency(currency_code)
    check_amount(amount)
    require_merchant(conn, partner_id)
    if min_credit_score is not None and (
        isinstance(min_credit_score, bool) or not 0 <= min_credit_score <= CREDIT_SCORE_MAX
    ):
        raise InvalidAmountError(f"min_credit_score must be 0–{CREDIT_SCORE_MAX}")
    existing = _policy(conn, product, cur.code)
    if existing is not None and existing.partner_id != partner_id:
        raise StateConflictError(f"product {product!r} belongs to partner {existing.partner_id}")
    values = {
        "product": product,
        "currency": cur.code,
        "partner_id": partner_id,
        "amount": amount,
        "min_credit_score": min_credit_score,
        "updated_at_ns": time.time_ns(),
    }
    _upsert(conn, policies, ["product", "currency"], values)
    return policy_dict(_policy(conn, product, cur.code))


def _policy(conn: Connection, product: str, currency_code: str) -> Any:
    return conn.execute(
        select(policies).where(policies.c.product == product, policies.c.currency == currency_code)
    ).first()


def min_credit_score(conn: Connection, product: str, currency_code: str) -> int | None:
    """The policy's credit-score threshold for a deposit-free hold (``None``: none set)."""
    policy = _policy(conn, product, currency_code)
    return None if policy is None or policy.min_credit_score is None else int(policy.min_credit_score)


def list_policies(conn: Connection, *, partner_id: int | None = None) -> list[Policy]:
    query = select(policies).order_by(policies.c.product, policies.c.currency)
    if partner_id is not None:
        query = query.where(policies.c.partner_id == partner_id)
    return [policy_dict(r) for r in conn.execute(query)]


def set_override(
    conn: Connection, *, product: str, currency_code: str, user_id: int, amount: int, reason: str
) -> Override:
    """A per-user deposit amount for one product and currency, with the reason (admin)."""
    cur = currency(currency_code)
    if _policy(conn, product, cur.code) is None:
        raise NotFoundError(f"no deposit policy for {product!r} in {cur.code}")
    if not user_exists(conn, user_id):
        raise NotFoundError(f"no user {user_id}")
    check_amount(amount)
    if not isinstance(reason, str) or not 0 < len(reason.strip()) <= REASON_MAX_LEN:
        raise InvalidAmountError(f"reason is required (1–{REASON_MAX_LEN} characters)")
    override: Override = {
        "product": product,
        "currency": cur.code,
        "user_id": user_id,
        "amount": amount,
        "reason": reason.strip(),
        "updated_at_ns": time.time_ns(),
    }
    _upsert(conn, overrides, ["product", "currency", "user_id"], dict(override))
    return override


def delete_override(conn: Connection, *, product: str, currency_code: str, user_id: int) -> None:
    cur = currency(currency_code)
    removed = conn.execute(
        delete(overrides).where(
            overrides.c.product == product, overrides.c.currency == cur.code, overrides.c.user_id == user_id
        )
    ).rowcount
    if removed != 1:
        raise NotFoundError(f"no override of {product!r} in {cur.code} for user {user_id}")


def deposit_amount(
    conn: Connection, *, product: str, currency_code: str, user_id: int, partner_id: int | None = None
) -> tuple[int, str, int]:
    """(amount, basis 'policy'|'override', policy's partner) for a user; 404 without a policy (or when the
    policy belongs to another partner than ``partner_id``)."""
    cur = currency(currency_code)
    policy = _policy(conn, product, cur.code)
    if policy is None or (partner_id is not None and policy.partner_id != partner_id):
        raise NotFoundError(f"no deposit policy for {product!r} in {cur.code}")
    override = conn.execute(
        select(overrides.c.amount).where(
            overrides.c.product == product, overrides.c.currency == cur.code, overrides.c.user_id == user_id
        )
    ).first()
    if override is not None:
        return int(override.amount), "override", int(policy.partner_id)
    return int(policy.amount), "policy", int(policy.partner_id)
