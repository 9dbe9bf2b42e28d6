"""The credit features that come from the ledger, per user and point in time: the average available
balance over 90 days, what the user paid at partner stores, and the debts (recorded after clawback
shortfalls on the user's debt account, repaid first-in first-out). Read only, through the ledger's
history queries (:mod:`earnloop.ledger.queries`): only transfers and balance snapshots stamped before
``as_of_ns`` count."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from earnloop.currencies import currency
from earnloop.ledger import queries
from earnloop.ledger.types import AccountFilter, TransferFlags
from earnloop.wallet.chart import TransferKind
from earnloop.wallet.service import debt_account, user_account

NS_PER_DAY = 86_400 * 1_000_000_000
WINDOW_DAYS = 90
BALANCE_SAMPLES = 7  # every 15 days over the 90-day window, as_of included
ON_TIME_DAYS = 30
HISTORY_MAX = 100_000


@dataclass(frozen=True, slots=True)
class LedgerFeatures:
    balance_avg_90d: float
    spent_90d: int
    open_debt: int
    days_past_due: float
    debts_repaid_on_time: float


def _available(conn: Connection, account_id: int, at_ns: int) -> int:
    balance = queries.balance_at(conn, account_id, at_ns)
    if balance is None:
        return 0
    return balance.credits_posted - balance.debits_posted - balance.debits_pending


def balance_avg(conn: Connection, account_id: int, as_of_ns: int) -> float:
    step = WINDOW_DAYS * NS_PER_DAY // (BALANCE_SAMPLES - 1)
    samples = [_available(conn, account_id, as_of_ns - 1 - i * step) for i in range(BALANCE_SAMPLES)]
    return sum(samples) / len(samples)


def spent(conn: Connection, account_id: int, as_of_ns: int) -> int:
    """Posted payments (not pending) from the user's account in the 90 days before ``as_of_ns``."""
    window = AccountFilter(
        account_id=account_id,
        limit=HISTORY_MAX,
        timestamp_min=max(1, as_of_ns - WINDOW_DAYS * NS_PER_DAY),
        timestamp_max=as_of_ns - 1,
        code=int(TransferKind.PAYMENT),
    )
    return sum(
        t.amount
        for t in queries.account_transfers(conn, window)
        if t.debit_account_id == account_id and not t.flags & TransferFlags.PENDING
    )


def debts(conn: Connection, account_id: int, as_of_ns: int) -> tuple[int, float, float]:
    """(open debt, days the oldest unpaid part is overdue, share of debts repaid within 30 days) at
    ``as_of_ns``: debts (debits of the debt account) repaid first-in first-out by its credits."""
    history = AccountFilter(account_id=account_id, limit=HISTORY_MAX, timestamp_max=as_of_ns - 1)
    owed: list[list[int]] = []  # [recorded at, amount left, amount]
    on_time = closed = 0
    for t in queries.account_transfers(conn, history):
        if t.debit_account_id == account_id:
            owed.append([t.timestamp, t.amount, t.amount])
            continue
        paying = t.amount
        while paying > 0 and owed:
            part = min(paying, owed[0][1])
            owed[0][1] -= part
            paying -= part
            if owed[0][1] == 0:
                closed += 1
                on_time += t.timestamp - owed[0][0] <= ON_TIME_DAYS * NS_PER_DAY
                owed.pop(0)
    open_debt = sum(left for _, left, _ in owed)
    # still unpaid beyond the grace period: late as well
    late_open = sum(1 for at, _, _ in owed if as_of_ns - at > ON_TIME_DAYS * NS_PER_DAY)
    overdue = (as_of_ns - owed[0][0]) / NS_PER_DAY if owed else 0.0
    judged = closed + late_open
    return open_debt, overdue, 1.0 if judged == 0 else on_time / judged


def ledger_features(conn: Connection, user_id: int, as_of_ns: int, currency_code: str) -> LedgerFeatures:
    cur = currency(currency_code)
    available = user_account(user_id, cur).id
    open_debt, overdue, on_time = debts(conn, debt_account(user_id, cur).id, as_of_ns)
    # CREDIT LINE: the credit line's overdue balance (``line_standing`` from the credit-line module)
    # joins in here — add its amount owed to ``open_debt`` and its days overdue to ``days_past_due``.
    return LedgerFeatures(
        balance_avg_90d=balance_avg(conn, available, as_of_ns),
        spent_90d=spent(conn, available, as_of_ns),
        open_debt=open_debt,
        days_past_due=overdue,
        debts_repaid_on_time=on_time,
    )
