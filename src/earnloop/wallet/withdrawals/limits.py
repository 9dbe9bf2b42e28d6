"""Withdrawal limits: a per-withdrawal minimum, a daily maximum per user and currency (withdrawals not
failed nor rejected count), the destination being the user's and active, and no open debt. Checked by
:func:`~earnloop.wallet.withdrawals.service.hold` with the user's wallet row locked, so two concurrent
requests cannot both pass the daily limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from earnloop.config import Settings
from earnloop.currencies import Currency
from earnloop.ledger.service import LedgerService
from earnloop.wallet.errors import FrozenError, LimitExceededError
from earnloop.wallet.ledger_ops import balance_of
from earnloop.wallet.models import wallets
from earnloop.wallet.service import debt_account
from earnloop.wallet.withdrawals.destinations import load_destination
from earnloop.wallet.withdrawals.models import withdrawals as w

NS_PER_S = 1_000_000_000
DAY_NS = 86_400 * NS_PER_S
NOT_COUNTED = ("failed", "rejected")  # states that do not count against the daily limit


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-withdrawal minimum and per user-and-currency daily maximum, in minor units."""

    min_amount: int = 100
    daily_limit: int = 5_000_000

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.withdrawal_min_amount, settings.withdrawal_daily_limit)


def used_today(conn: Connection, user_id: int, currency_code: str, now_ns: int) -> int:
    """Sum of today's (UTC) withdrawals not failed nor rejected: they count against the daily limit."""
    day_start = now_ns - now_ns % DAY_NS
    total = conn.execute(
        select(func.coalesce(func.sum(w.c.amount), 0)).where(
            w.c.user_id == user_id,
            w.c.currency == currency_code,
            w.c.created_at_ns >= day_start,
            w.c.state.notin_(NOT_COUNTED),
        )
    ).scalar_one()
    return int(total)


def check_allowed(
    conn: Connection,
    ledger: LedgerService,
    user_id: int,
    cur: Currency,
    destination_id: int,
    amount: int,
    limits: Limits,
    now_ns: int,
) -> Any:
    """The destination (its row) is the user's and active, no debt is open, and the daily limit holds."""
    # Serialise this user's withdrawals in this currency (PostgreSQL; SQLite writers are serial already),
    # so two concurrent requests cannot both pass the daily limit.
    conn.execute(
        select(wallets.c.user_id)
        .where(wallets.c.user_id == user_id, wallets.c.currency == cur.code)
        .with_for_update()
    )
    destination = load_destination(conn, user_id, destination_id)
    debt = balance_of(conn, ledger, debt_account(user_id, cur))
    owed = 0 if debt is None else debt.debits_posted - debt.credits_posted
    if owed > 0:
        raise FrozenError(f"withdrawals are frozen until the open debt of {owed} {cur.code} is repaid")
    used = used_today(conn, user_id, cur.code, now_ns)
    if used + amount > limits.daily_limit:
        raise LimitExceededError(
            f"daily withdrawal limit is {limits.daily_limit} {cur.code}; "
            f"{max(0, limits.daily_limit - used)} left today"
        )
    return destination
