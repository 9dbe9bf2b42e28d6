"""Wallets: open one per user and currency, show it (every number from the ledger), list its history,
and let an operator adjust it with a recorded reason."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, func, insert, select

from earnloop.auth.service import user_exists
from earnloop.currencies import Currency, currency
from earnloop.db import driver
from earnloop.db.upsert import dialect_insert
from earnloop.idempotency import service as idem
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import AccountFilter, AccountFilterFlags, Transfer, TransferFlags, enc128
from earnloop.wallet.cashback.models import cashback_entries
from earnloop.wallet.chart import AccountKind, AccountRef, TransferKind, describe, transfer_id
from earnloop.wallet.errors import InvalidAmountError, NotFoundError
from earnloop.wallet.ledger_ops import balance_of, ensure_accounts, submit
from earnloop.wallet.models import adjustments, wallets

HISTORY_PAGE_MAX = 200
REASON_MAX_LEN = 500


def user_account(user_id: int, cur: Currency) -> AccountRef:
    return AccountRef(AccountKind.USER_AVAILABLE, user_id, cur)


def debt_account(user_id: int, cur: Currency) -> AccountRef:
    return AccountRef(AccountKind.USER_DEBT, user_id, cur)


def system_account(kind: AccountKind, cur: Currency) -> AccountRef:
    return AccountRef(kind, 0, cur)


def check_amount(amount: int, *, minimum: int = 1) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < minimum or amount > (1 << 62):
        raise InvalidAmountError(f"amount must be an integer number of minor units ≥ {minimum}")
    return amount


# Run on the driver (``earnloop.db.driver``): every credit and payment checks the wallet.
_WALLET = select(wallets.c.user_id).where(
    wallets.c.user_id == bindparam("user_id"), wallets.c.currency == bindparam("currency")
)


def open_wallet(conn: Connection, ledger: LedgerService, user_id: int, currency_code: str) -> Currency:
    """Create the user's ledger accounts in this currency (idempotent). The wallet row is written after
    the accounts, in the same transaction: when it exists, so do the user and the accounts."""
    cur = currency(currency_code)
    if driver.first(conn, _WALLET, {"user_id": user_id, "currency": cur.code}) is not None:
        return cur
    if not user_exists(conn, user_id):
        raise NotFoundError(f"no user {user_id}")
    ensure_accounts(conn, ledger, [user_account(user_id, cur), debt_account(user_id, cur)])
    insert_ = dialect_insert(conn, wallets)
    conn.execute(
        insert_.values(
            user_id=user_id, currency=cur.code, opened_at_ns=time.time_ns()
        ).on_conflict_do_nothing()
    )
    return cur


def require_wallet(conn: Connection, user_id: int, currency_code: str) -> Currency:
    cur = currency(currency_code)
    if driver.first(conn, _WALLET, {"user_id": user_id, "currency": cur.code}) is None:
        raise NotFoundError(f"user {user_id} has no {cur.code} wallet")
    return cur


def currencies_of(conn: Connection, user_id: int) -> list[str]:
    """The currencies the user has a wallet in, in the order they were opened."""
    rows = conn.execute(
        select(wallets.c.currency)
        .where(wallets.c.user_id == user_id)
        .order_by(wallets.c.opened_at_ns, wallets.c.currency)
    )
    return [str(code) for code in rows.scalars()]


@dataclass(frozen=True)
class PendingItem:
    amount: int
    source: str
    ref: str
    release_at_ns: int


@dataclass(frozen=True)
class WalletView:
    user_id: int
    currency: str
    available: int
    pending: int
    held: int
    debt: int
    lifetime_earned: int
    pending_items: list[PendingItem] = field(default_factory=list)


def view(conn: Connection, ledger: LedgerService, user_id: int, currency_code: str) -> WalletView:
    """Balances straight from the ledger: available = posted credits − posted debits − held."""
    cur = require_wallet(conn, user_id, currency_code)
    account = balance_of(conn, ledger, user_account(user_id, cur))
    debt = balance_of(conn, ledger, debt_account(user_id, cur))
    assert account is not None, "an open wallet has its accounts"
    assert debt is not None, "an open wallet has its accounts"
    entries = cashback_entries
    rows = conn.execute(
        select(entries.c.amount, entries.c.source, entries.c.ref, entries.c.release_at_ns)
        .where(entries.c.user_id == user_id, entries.c.currency == cur.code, entries.c.status == "pending")
        .order_by(entries.c.release_at_ns)
        .limit(HISTORY_PAGE_MAX)
    )
    earned = conn.execute(
        select(
            func.coalesce(func.sum(entries.c.amount - entries.c.clawed_back - entries.c.debt_recorded), 0)
        ).where(
            entries.c.user_id == user_id,
            entries.c.currency == cur.code,
            entries.c.status.in_(("confirmed", "clawed_back")),
        )
    ).scalar_one()
    return WalletView(
        user_id=user_id,
        currency=cur.code,
        available=account.credits_posted - account.debits_posted - account.debits_pending,
        pending=account.credits_pending,
        held=account.debits_pending,
        debt=debt.debits_posted - debt.credits_posted,
        lifetime_earned=int(earned),
        pending_items=[PendingItem(r.amount, r.source, r.ref, r.release_at_ns) for r in rows],
    )


@dataclass(frozen=True)
class HistoryEntry:
    timestamp_ns: int
    kind: str
    description: str
    amount: int  # signed: + money in, − money out
    state: str  # "posted", "pending" (reserved, not final), "resolved" (a pending that was settled)


def history(
    conn: Connection,
    ledger: LedgerService,
    user_id: int,
    currency_code: str,
    *,
    limit: int = 50,
    before_ns: int = 0,
) -> list[HistoryEntry]:
    """Newest first; page with ``before_ns`` = the last entry's timestamp."""
    cur = require_wallet(conn, user_id, currency_code)
    account_id = user_account(user_id, cur).id
    f = AccountFilter(
        account_id=account_id,
        limit=max(1, min(limit, HISTORY_PAGE_MAX)),
        flags=AccountFilterFlags.DEBITS | AccountFilterFlags.CREDITS | AccountFilterFlags.REVERSED,
        timestamp_max=before_ns - 1 if before_ns else 0,
    )
    return [_entry(t, account_id) for t in ledger.get_account_transfers(conn, f)]


def _entry(t: Transfer, account_id: int) -> HistoryEntry:
    sign = 1 if t.credit_account_id == account_id else -1
    name, description = describe(t.code, t.flags)
    if t.flags & TransferFlags.PENDING:
        state = "pending"
    elif t.flags & (TransferFlags.POST_PENDING_TRANSFER | TransferFlags.VOID_PENDING_TRANSFER):
        state = "resolved"
    else:
        state = "posted"
    amount = 0 if t.flags & TransferFlags.VOID_PENDING_TRANSFER else sign * t.amount
    return HistoryEntry(t.timestamp, name, description, amount, state)


def adjust(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    user_id: int,
    currency_code: str,
    amount: int,
    direction: str,
    reason: str,
    actor: str,
) -> dict[str, object]:
    """An operator credits or debits a wallet, with a reason; recorded with who did it."""
    request = {
        "user_id": user_id,
        "currency": currency_code,
        "amount": amount,
        "direction": direction,
        "reason": reason,
    }
    scope = "wallet.adjust"
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        return replay
    cur = require_wallet(conn, user_id, currency_code)
    check_amount(amount)
    if direction not in ("credit", "debit"):
        raise InvalidAmountError("direction must be 'credit' or 'debit'")
    if not 0 < len(reason.strip()) <= REASON_MAX_LEN:
        raise InvalidAmountError(f"reason is required (1–{REASON_MAX_LEN} characters)")
    operator = system_account(AccountKind.OPERATOR_FUNDING, cur)
    ensure_accounts(conn, ledger, [operator])
    user = user_account(user_id, cur)
    xfer_id = transfer_id(scope, idempotency_key)
    debit, credit = (operator, user) if direction == "credit" else (user, operator)
    kind = TransferKind.ADJUSTMENT_CREDIT if direction == "credit" else TransferKind.ADJUSTMENT_DEBIT
    submit(conn, ledger, [_transfer(xfer_id, debit, credit, amount, kind)])
    conn.execute(
        insert(adjustments).values(
            user_id=user_id,
            currency=cur.code,
            amount=amount,
            direction=direction,
            reason=reason.strip(),
            actor=actor,
            transfer_id=enc128(xfer_id),
            created_at_ns=time.time_ns(),
        )
    )
    return idem.complete(conn, scope, idempotency_key, {"transfer_id": str(xfer_id), **request})


def _transfer(
    xfer_id: int, debit: AccountRef, credit: AccountRef, amount: int, kind: TransferKind
) -> Transfer:
    return Transfer(
        id=xfer_id,
        debit_account_id=debit.id,
        credit_account_id=credit.id,
        amount=amount,
        ledger=debit.ledger,
        code=int(kind),
    )
