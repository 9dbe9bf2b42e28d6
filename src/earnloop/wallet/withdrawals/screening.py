"""The risk events of withdrawals and payout-destination changes (issue 15, ADR 0028).

A withdrawal is screened before its money is held: keys user, payee (a keyed fingerprint of the
destination account, :meth:`~earnloop.secretbox.SecretBox.fingerprint`, so that accounts shared by
several users show without the number ever reaching the risk tables), device and ip/ip24 of the
request; attributes ``share_of_balance_bps`` (of the available balance), ``destination_age_s`` and
``other_destinations``. Adding a destination is screened as an ``account_change`` (``deny`` refuses
it; ``review`` lets it through, recorded, since the withdrawal that would move the money is screened
again); removing one is only observed. Both feed the velocity windows, so a withdrawal sees "payout
destination changed shortly before".

Owns :func:`screen_withdrawal`, :func:`screen_destination_added`, :func:`observe_destination_removed`
and :func:`payee_key`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from earnloop.currencies import Currency
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine
from earnloop.risk.events import EntityKey, RiskEvent
from earnloop.risk.screening import ScreenResult, observe, screen
from earnloop.secretbox import SecretBox
from earnloop.wallet.ledger_ops import balance_of
from earnloop.wallet.screening import Presence, RiskDeniedError
from earnloop.wallet.service import user_account
from earnloop.wallet.withdrawals.models import payout_destinations as destinations

BPS = 10_000
NS_PER_S = 1_000_000_000


def payee_key(box: SecretBox, kind: str, institution: str, account_number: str) -> str:
    """The ``payee`` entity key of a destination account: equal accounts, equal keys, number hidden."""
    return "acct:" + box.fingerprint(f"{kind}:{institution.strip().casefold()}:{account_number}")


def _other_destinations(conn: Connection, user_id: int, before_id: int | None) -> int:
    query = select(func.count()).select_from(destinations).where(destinations.c.user_id == user_id)
    if before_id is not None:
        query = query.where(destinations.c.id < before_id)
    return int(conn.execute(query).scalar_one())


def _share_bps(conn: Connection, ledger: LedgerService, user_id: int, cur: Currency, amount: int) -> int:
    account = balance_of(conn, ledger, user_account(user_id, cur))
    available = 0
    if account is not None:
        available = account.credits_posted - account.debits_posted - account.debits_pending
    return BPS if available <= 0 else min(BPS, amount * BPS // available)


def screen_withdrawal(
    conn: Connection,
    ledger: LedgerService,
    risk: RiskEngine,
    *,
    ref: str,
    destination: Any,
    cur: Currency,
    amount: int,
    presence: Presence,
    box: SecretBox,
) -> ScreenResult:
    """Screen a withdrawal of ``amount`` to ``destination`` (its row) before its money is held."""
    now = ledger.clock.now_ns()
    user_id = int(destination.user_id)
    number = box.open_cached(destination.account_number)
    keys: dict[EntityKey, str] = {
        **presence.keys(),
        "user": str(user_id),
        "payee": payee_key(box, destination.kind, destination.institution, number),
    }
    attrs = {
        "share_of_balance_bps": _share_bps(conn, ledger, user_id, cur, amount),
        "destination_age_s": max(0, (now - int(destination.created_at_ns)) // NS_PER_S),
        "other_destinations": _other_destinations(conn, user_id, int(destination.id)),
    }
    event = RiskEvent("withdrawal", ref, now, amount, cur.code, keys, attrs)
    return screen(conn, risk, event)


def screen_destination_added(
    conn: Connection,
    risk: RiskEngine,
    *,
    user_id: int,
    payee: str,
    presence: Presence,
    now_ns: int,
) -> ScreenResult:
    """Screen adding a payout destination (before it is stored); ``deny`` raises
    :class:`~earnloop.wallet.screening.RiskDeniedError` after the decision was recorded."""
    keys: dict[EntityKey, str] = {**presence.keys(), "user": str(user_id), "payee": payee}
    ref = f"account_change:add:{user_id}:{payee[5:21]}:{now_ns}"
    attrs = {"other_destinations": _other_destinations(conn, user_id, None)}
    decision = screen(conn, risk, RiskEvent("account_change", ref, now_ns, keys=keys, attrs=attrs))
    if decision.outcome == "deny":
        raise RiskDeniedError("adding this payout destination was refused by risk screening")
    return decision


def observe_destination_removed(
    risk: RiskEngine, *, user_id: int, destination_id: int, presence: Presence, now_ns: int
) -> None:
    """Feed a removed destination into the velocity windows (a change, though it moves nothing)."""
    keys: dict[EntityKey, str] = {**presence.keys(), "user": str(user_id)}
    observe(risk, RiskEvent("account_change", f"account_change:remove:{destination_id}", now_ns, keys=keys))
