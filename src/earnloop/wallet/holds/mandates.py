"""Deposit mandates: a user's standing permission for one merchant to place deposit holds on the user's
wallet without approving each one — up to ``max_per_hold`` a hold and ``total_limit`` in all, in one
currency, until the mandate expires or the user revokes it (at once).

``used`` counts every hold placed under the mandate, whatever became of it: the limit is the most the
merchant can ever hold through it. :func:`reserve` raises ``used`` in one guarded UPDATE whose WHERE
holds the limit, the expiry and the revocation, so concurrent holds never take a mandate past its
limit, nor use it after it was revoked, on either database (the row lock serialises them).
"""

from __future__ import annotations

import secrets
from typing import Any, cast

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from earnloop.idempotency import service as idem
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import NS_PER_S
from earnloop.wallet.errors import InvalidAmountError, NotFoundError
from earnloop.wallet.escrow.service import now_of, require_merchant
from earnloop.wallet.holds.errors import MandateLimitError, NoMandateError
from earnloop.wallet.holds.models import deposit_mandates as mandates
from earnloop.wallet.holds.schemas import Mandate
from earnloop.wallet.service import check_amount, require_wallet

TTL_MIN_S = 60
TTL_MAX_S = 365 * 86_400
ACTIVE_PER_USER_MAX = 100
LIST_MAX = 200


def _state(row: Any, now_ns: int) -> str:
    if row.revoked_at_ns is not None:
        return "revoked"
    return "expired" if now_ns >= row.expires_at_ns else "active"


def mandate_dict(row: Any, now_ns: int) -> Mandate:
    return {
        "mandate_id": row.mandate_id,
        "user_id": row.user_id,
        "partner_id": row.partner_id,
        "currency": row.currency,
        "total_limit": row.total_limit,
        "max_per_hold": row.max_per_hold,
        "used": row.used,
        "state": _state(row, now_ns),
        "expires_at_ns": row.expires_at_ns,
        "revoked_at_ns": row.revoked_at_ns,
        "created_at_ns": row.created_at_ns,
    }


def _active(now_ns: int) -> Any:
    return and_(mandates.c.revoked_at_ns.is_(None), mandates.c.expires_at_ns > now_ns)


def grant(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    user_id: int,
    partner_id: int,
    currency_code: str,
    total_limit: int,
    max_per_hold: int | None,
    expires_in_s: int,
) -> Mandate:
    """The user lets merchant ``partner_id`` hold deposits at once, within the limits, until the expiry."""
    request = {
        "partner_id": partner_id,
        "currency": currency_code,
        "total_limit": total_limit,
        "max_per_hold": max_per_hold,
        "expires_in_s": expires_in_s,
    }
    scope = f"mandate.grant:u{user_id}"
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        return cast(Mandate, replay)
    require_merchant(conn, partner_id)
    cur = require_wallet(conn, user_id, currency_code)
    check_amount(total_limit)
    if max_per_hold is not None and check_amount(max_per_hold) > total_limit:
        raise InvalidAmountError("max_per_hold cannot exceed total_limit")
    if (
        isinstance(expires_in_s, bool)
        or not isinstance(expires_in_s, int)
        or not TTL_MIN_S <= expires_in_s <= TTL_MAX_S
    ):
        raise InvalidAmountError(f"expires_in_s must be {TTL_MIN_S}–{TTL_MAX_S} seconds")
    now = now_of(ledger)
    active = conn.execute(
        select(func.count()).select_from(mandates).where(mandates.c.user_id == user_id, _active(now))
    ).scalar_one()
    if active >= ACTIVE_PER_USER_MAX:
        raise InvalidAmountError(f"at most {ACTIVE_PER_USER_MAX} active mandates; revoke one first")
    mandate_id = "md_" + secrets.token_hex(16)
    conn.execute(
        insert(mandates).values(
            mandate_id=mandate_id,
            user_id=user_id,
            partner_id=partner_id,
            currency=cur.code,
            total_limit=total_limit,
            max_per_hold=max_per_hold,
            used=0,
            expires_at_ns=now + expires_in_s * NS_PER_S,
            revoked_at_ns=None,
            created_at_ns=now,
            updated_at_ns=now,
        )
    )
    row = conn.execute(select(mandates).where(mandates.c.mandate_id == mandate_id)).one()
    return idem.complete(conn, scope, idempotency_key, mandate_dict(row, now))


def list_mandates(conn: Connection, ledger: LedgerService, user_id: int, *, limit: int = 50) -> list[Mandate]:
    rows = conn.execute(
        select(mandates)
        .where(mandates.c.user_id == user_id)
        .order_by(mandates.c.created_at_ns.desc(), mandates.c.mandate_id)
        .limit(max(1, min(limit, LIST_MAX)))
    )
    now = now_of(ledger)
    return [mandate_dict(r, now) for r in rows]


def revoke(conn: Connection, ledger: LedgerService, *, user_id: int, mandate_id: str) -> None:
    """Revoke at once (holds already placed stay as they are); revoking twice is not an error."""
    now = now_of(ledger)
    conn.execute(
        update(mandates)
        .where(
            mandates.c.mandate_id == mandate_id,
            mandates.c.user_id == user_id,
            mandates.c.revoked_at_ns.is_(None),
        )
        .values(revoked_at_ns=now, updated_at_ns=now)
    )
    owned = conn.execute(
        select(mandates.c.mandate_id).where(
            mandates.c.mandate_id == mandate_id, mandates.c.user_id == user_id
        )
    ).first()
    if owned is None:
        raise NotFoundError(f"no mandate {mandate_id}")


def reserve(
    conn: Connection, *, user_id: int, partner_id: int, currency_code: str, amount: int, now_ns: int
) -> str:
    """Count ``amount`` against one of the user's active mandates to ``partner_id`` (the soonest to
    expire that has room) and return its id: 403 ``no-mandate`` without one, 422 when none has room."""
    candidates = (
        conn.execute(
            select(mandates.c.mandate_id)
            .where(
                mandates.c.user_id == user_id,
                mandates.c.partner_id == partner_id,
                mandates.c.currency == currency_code,
                _active(now_ns),
            )
            .order_by(mandates.c.expires_at_ns, mandates.c.mandate_id)
            .limit(ACTIVE_PER_USER_MAX)
        )
        .scalars()
        .all()
    )
    if not candidates:
        raise NoMandateError(f"user {user_id} granted you no active mandate in {currency_code}")
    for mandate_id in candidates:
        taken = conn.execute(
            update(mandates)
            .where(
                mandates.c.mandate_id == mandate_id,
                _active(now_ns),
                mandates.c.used + amount <= mandates.c.total_limit,
                or_(mandates.c.max_per_hold.is_(None), mandates.c.max_per_hold >= amount),
            )
            .values(used=mandates.c.used + amount, updated_at_ns=now_ns)
        ).rowcount
        if taken == 1:
            return str(mandate_id)
    raise MandateLimitError(f"a hold of {amount} exceeds what the user's mandates to you allow")
