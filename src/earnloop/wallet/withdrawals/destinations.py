"""Payout destinations: where a user's withdrawals go (bank / e-wallet). The account number is stored
sealed (:mod:`earnloop.secretbox`) and only its masked form (last four characters) ever leaves. Adding
one is screened by the risk engine as an ``account_change``, removing one observed (``screening.py``)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, insert, select, update

from earnloop.risk.engine import RiskEngine
from earnloop.secretbox import SecretBox, process_box
from earnloop.wallet.errors import InvalidAmountError, NotFoundError
from earnloop.wallet.screening import UNKNOWN, Presence
from earnloop.wallet.withdrawals.models import payout_destinations as destinations
from earnloop.wallet.withdrawals.schemas import Destination
from earnloop.wallet.withdrawals.screening import (
    observe_destination_removed,
    payee_key,
    screen_destination_added,
)

DESTINATION_KINDS = frozenset({"bank", "ewallet"})
ACCOUNT_NUMBER_RE = re.compile(r"^[A-Za-z0-9]{6,34}$")
LIST_MAX = 200


def mask(account_number: str) -> str:
    """What answers and logs show of an account number: its last four characters."""
    return "****" + account_number[-4:]


def destination_dict(row: Any) -> Destination:
    return {
        "destination_id": row.id,
        "kind": row.kind,
        "institution": row.institution,
        "holder_name": row.holder_name,
        "account_masked": row.account_masked,
        "active": bool(row.active),
    }


def add_destination(
    conn: Connection,
    *,
    user_id: int,
    kind: str,
    institution: str,
    holder_name: str,
    account_number: str,
    now_ns: int,
    risk: RiskEngine,
    presence: Presence = UNKNOWN,
    box: SecretBox | None = None,
) -> Destination:
    """Register a payout destination. The account number is stored sealed (the provider needs it;
    ``box`` defaults to the process's) and only its masked form (last four) is ever returned. Screened
    first: a ``deny`` raises :class:`~earnloop.wallet.screening.RiskDeniedError` (nothing stored)."""
    number = re.sub(r"[\s-]", "", account_number)
    if kind not in DESTINATION_KINDS:
        raise InvalidAmountError("kind must be 'bank' or 'ewallet'")
    if not ACCOUNT_NUMBER_RE.match(number):
        raise InvalidAmountError("account number: 6–34 letters or digits")
    if not 0 < len(institution.strip()) <= 64 or not 0 < len(holder_name.strip()) <= 120:
        raise InvalidAmountError("institution (1–64) and holder name (1–120 characters) are required")
    box = box or process_box()
    payee = payee_key(box, kind, institution, number)
    screen_destination_added(conn, risk, user_id=user_id, payee=payee, presence=presence, now_ns=now_ns)
    values = {
        "user_id": user_id,
        "kind": kind,
        "institution": institution.strip(),
        "holder_name": holder_name.strip(),
        "account_number": box.seal(number),
        "account_masked": mask(number),
        "active": True,
        "created_at_ns": now_ns,
    }
    new_id = conn.execute(insert(destinations).values(**values).returning(destinations.c.id)).scalar_one()
    return destination_dict(load_destination(conn, user_id, int(new_id), active_only=False))


def list_destinations(conn: Connection, user_id: int) -> list[Destination]:
    rows = conn.execute(
        select(destinations)
        .where(destinations.c.user_id == user_id, destinations.c.active.is_(True))
        .order_by(destinations.c.id)
        .limit(LIST_MAX)
    )
    return [destination_dict(r) for r in rows]


def remove_destination(
    conn: Connection,
    *,
    user_id: int,
    destination_id: int,
    risk: RiskEngine,
    presence: Presence = UNKNOWN,
    now_ns: int,
) -> None:
    """Deactivate (rows stay: past withdrawals refer to them); the change is observed by the risk
    engine."""
    changed = conn.execute(
        update(destinations)
        .where(
            destinations.c.id == destination_id,
            destinations.c.user_id == user_id,
            destinations.c.active.is_(True),
        )
        .values(active=False)
    ).rowcount
    if changed != 1:
        raise NotFoundError(f"no active payout destination {destination_id}")
    observe_destination_removed(
        risk, user_id=user_id, destination_id=destination_id, presence=presence, now_ns=now_ns
    )


def load_destination(conn: Connection, user_id: int, destination_id: int, *, active_only: bool = True) -> Any:
    query = select(destinations).where(destinations.c.id == destination_id, destinations.c.user_id == user_id)
    if active_only:
        query = query.where(destinations.c.active.is_(True))
    row = conn.execute(query).first()
    if row is None:
        raise NotFoundError(f"no active payout destination {destination_id}")
    return row
