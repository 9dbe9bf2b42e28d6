"""The credit line's ledger side (chart in ``wallet/chart.py``, ADR 0034): its accounts, what is owed
on it, and :func:`sync_available` — the one step that keeps ``available == max(0, limit − owed)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from earnloop.currencies import Currency
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import Transfer
from earnloop.wallet.chart import AccountKind, AccountRef, TransferKind, transfer_id
from earnloop.wallet.ledger_ops import balance_of, ensure_accounts, submit
from earnloop.wallet.service import debt_account as debt_account
from earnloop.wallet.service import system_account


def drawn_account(user_id: int, cur: Currency) -> AccountRef:
    return AccountRef(AccountKind.CREDIT_LINE_DRAWN, user_id, cur)


def available_account(user_id: int, cur: Currency) -> AccountRef:
    return AccountRef(AccountKind.CREDIT_LINE_AVAILABLE, user_id, cur)


def grants_account(cur: Currency) -> AccountRef:
    return system_account(AccountKind.CREDIT_GRANTS, cur)


def ensure_line_accounts(conn: Connection, ledger: LedgerService, user_id: int, cur: Currency) -> None:
    ensure_accounts(
        conn,
        ledger,
        [
            drawn_account(user_id, cur),
            available_account(user_id, cur),
            grants_account(cur),
            debt_account(user_id, cur),
        ],
    )


@dataclass(frozen=True, slots=True)
class Owed:
    """What the ledger says about one line: drawn (on the line), line debt (moved to USER_DEBT and still
    open there), available credit."""

    drawn: int
    line_debt: int
    available: int

    @property
    def total(self) -> int:
        return self.drawn + self.line_debt


def owed(conn: Connection, ledger: LedgerService, line: Any, cur: Currency) -> Owed:
    """The line debt is the part of ``USER_DEBT`` that came from this line: what the line moved there
    and did not get repaid through the line, capped by the debt still open (cashback that repays debt
    is counted against the line's part last)."""
    user_id = int(line.user_id)
    drawn = balance_of(conn, ledger, drawn_account(user_id, cur))
    avail = balance_of(conn, ledger, available_account(user_id, cur))
    debt = balance_of(conn, ledger, debt_account(user_id, cur))
    open_debt = 0 if debt is None else debt.debits_posted - debt.credits_posted
    return Owed(
        drawn=0 if drawn is None else drawn.debits_posted - drawn.credits_posted,
        line_debt=max(0, min(int(line.line_debt), open_debt)),
        available=0 if avail is None else avail.credits_posted - avail.debits_posted,
    )


def target_available(limit: int, total_owed: int) -> int:
    return max(0, limit - total_owed)


def sync_leg(line: Any, cur: Currency, now: Owed, limit: int, owed_after: int, step: str) -> Transfer | None:
    """The transfer moving the available credit to ``max(0, limit − owed_after)`` (None: already there).
    Its id is derived from the line's version, bumped by every change of the line."""
    delta = target_available(limit, owed_after) - now.available
    if delta == 0:
        return None
    user_id = int(line.user_id)
    avail, grants = available_account(user_id, cur), grants_account(cur)
    debit, credit = (grants, avail) if delta > 0 else (avail, grants)
    kind = TransferKind.CREDIT_LIMIT_GRANTED if delta > 0 else TransferKind.CREDIT_LIMIT_USED
    return Transfer(
        id=transfer_id("credit_line", user_id, cur.code, int(line.version), step),
        debit_account_id=debit.id,
        credit_account_id=credit.id,
        amount=abs(delta),
        ledger=cur.ledger,
        code=int(kind),
        user_data_64=user_id,
    )


def sync_available(
    conn: Connection,
    ledger: LedgerService,
    line: Any,
    cur: Currency,
    limit: int,
    owed_after: int | None = None,
) -> None:
    """Bring the available credit to ``max(0, limit − owed)`` on the ledger."""
    now = owed(conn, ledger, line, cur)
    leg = sync_leg(line, cur, now, limit, now.total if owed_after is None else owed_after, "sync")
    if leg is not None:
        submit(conn, ledger, [leg])
