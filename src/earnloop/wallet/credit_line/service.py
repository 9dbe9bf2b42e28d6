"""Credit-line use cases (ADR 0034): open a line and set its limit (the credit domain sizes it), quote
and draw at a partner merchant, repay from the wallet or by a top-up, show the line, and the standing
the credit score reads (:func:`line_standing`). Statements are in :mod:`.statements`.

Every change locks the line's row first (``FOR UPDATE``; SQLite writers are serial), then writes the
ledger: row locks before the ledger lock, as in every wallet flow. The limit is enforced by the ledger
(the draw's first leg debits ``CREDIT_LINE_AVAILABLE``, which cannot go negative).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from earnloop.currencies import Currency, currency
from earnloop.db.upsert import dialect_insert
from earnloop.idempotency import service as idem
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import enc128
from earnloop.risk.engine import RiskEngine
from earnloop.wallet.chart import AccountKind, TransferKind, transfer_id
from earnloop.wallet.credit_line import statements
from earnloop.wallet.credit_line.accounts import (
    available_account,
    debt_account,
    drawn_account,
    ensure_line_accounts,
    grants_account,
    owed,
    sync_available,
    sync_leg,
)
from earnloop.wallet.credit_line.errors import (
    CreditLimitExceededError,
    CreditLineFrozenError,
    FeeChangedError,
    NoCreditLineError,
    OverRepaymentError,
)
from earnloop.wallet.credit_line.models import credit_line_movements as movements
from earnloop.wallet.credit_line.models import credit_lines as lines
from earnloop.wallet.credit_line.terms import Terms
from earnloop.wallet.errors import InsufficientFundsError, InvalidAmountError
from earnloop.wallet.ledger_ops import ensure_accounts, submit
from earnloop.wallet.pay import legs
from earnloop.wallet.pay.errors import CurrencyMismatchError
from earnloop.wallet.pay.orders import fee_bps_of, require_merchant, settlement_account
from earnloop.wallet.pay.risk import screen_payment
from earnloop.wallet.screening import UNKNOWN, Presence, raise_if_refused
from earnloop.wallet.service import check_amount, open_wallet, system_account, user_account

LIMIT_MAX = 1 << 48
REFERENCE_MAX_LEN = 200
REPAY_SOURCES = ("wallet", "topup")


def require_merchant_in(conn: Connection, merchant_id: int, cur: Currency) -> None:
    """A partner merchant settling in the line's currency (a draw pays it without conversion)."""
    merchant = require_merchant(conn, merchant_id)
    if merchant.settlement_currency != cur.code:
        raise CurrencyMismatchError(
            f"merchant {merchant_id} settles in {merchant.settlement_currency}: draw on a "
            f"{merchant.settlement_currency} credit line"
        )


def check_limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= LIMIT_MAX:
        raise InvalidAmountError(f"limit must be an integer number of minor units in 0…{LIMIT_MAX}")
    return limit


def lock_line(conn: Connection, user_id: int, currency_code: str) -> Any:
    row = conn.execute(
        select(lines).where(lines.c.user_id == user_id, lines.c.currency == currency_code).with_for_update()
    ).first()
    if row is None:
        raise NoCreditLineError(f"user {user_id} has no {currency_code} credit line")
    return row


def _bump(conn: Connection, line: Any, now: int, **values: int) -> Any:
    conn.execute(
        update(lines)
        .where(lines.c.user_id == line.user_id, lines.c.currency == line.currency)
        .values(version=lines.c.version + 1, updated_at_ns=now, **values)
    )
    return lock_line(conn, int(line.user_id), str(line.currency))


def _movement(conn: Connection, line: Any, kind: str, amount: int, now: int, **extra: Any) -> None:
    conn.execute(
        insert(movements).values(
            user_id=line.user_id,
            currency=line.currency,
            kind=kind,
            amount=amount,
            created_at_ns=now,
            fee=extra.pop("fee", 0),
            **extra,
        )
    )


def open_line(
    conn: Connection, ledger: LedgerService, user_id: int, currency_code: str, limit: int
) -> dict[str, Any]:
    """Open the user's line in this currency with ``limit`` (idempotent: an open line gets the limit)."""
    check_limit(limit)
    cur = open_wallet(conn, ledger, user_id, currency_code)
    ensure_line_accounts(conn, ledger, user_id, cur)
    now = ledger.clock.now_ns()
    values = {"user_id": user_id, "currency": cur.code, "credit_limit": 0, "line_debt": 0, "version": 0}
    conn.execute(
        dialect_insert(conn, lines)
        .values(**values, cycle_start_ns=now, opened_at_ns=now, updated_at_ns=now)
        .on_conflict_do_nothing()
    )
    return set_limit(conn, ledger, user_id, cur.code, limit)


def set_limit(
    conn: Connection, ledger: LedgerService, user_id: int, currency_code: str, limit: int
) -> dict[str, Any]:
    """Set the line's limit. Raising it grants the difference at once; lowering it takes back only what
    is available: below what is owed it blocks new draws until repayments bring the owed amount under."""
    check_limit(limit)
    cur = currency(currency_code)
    line = lock_line(conn, user_id, cur.code)
    now = ledger.clock.now_ns()
    changed = int(line.credit_limit) != limit
    line = _bump(conn, line, now, credit_limit=limit)  # a new version: the sync's transfer id is new
    if changed:
        _movement(conn, line, "limit", limit, now)
    sync_available(conn, ledger, line, cur, limit)
    return view(conn, ledger, user_id, cur.code)


def view(
    conn: Connection, ledger: LedgerService, user_id: int, currency_code: str, terms: Terms | None = None
) -> dict[str, Any]:
    """The line as its user sees it: limit, drawn, owed as debt, available, fee, next statement."""
    cur = currency(currency_code)
    line = conn.execute(select(lines).where(lines.c.user_id == user_id, lines.c.currency == cur.code)).first()
    if line is None:
        raise NoCreditLineError(f"user {user_id} has no {cur.code} credit line")
    o = owed(conn, ledger, line, cur)
    terms = terms or Terms.from_settings()
    return {
        "user_id": user_id,
        "currency": cur.code,
        "limit": int(line.credit_limit),
        "drawn": o.drawn,
        "line_debt": o.line_debt,
        "owed": o.total,
        "available": o.available,
        "fee_bps": terms.fee_bps,
        "next_statement_at_ns": int(line.cycle_start_ns) + terms.cycle_days * 86_400 * 1_000_000_000,
    }


def quote(
    conn: Connection,
    ledger: LedgerService,
    *,
    user_id: int,
    currency_code: str,
    merchant_id: int,
    amount: int,
    terms: Terms | None = None,
) -> dict[str, Any]:
    """What a draw of ``amount`` at this merchant would cost: amount, fee, total, and whether it fits."""
    check_amount(amount)
    require_merchant_in(conn, merchant_id, currency(currency_code))
    terms = terms or Terms.from_settings()
    line = view(conn, ledger, user_id, currency_code, terms)
    fee = terms.fee(amount)
    return {
        "merchant_id": merchant_id,
        "currency": line["currency"],
        "amount": amount,
        "fee": fee,
        "total": amount + fee,
        "available": line["available"],
        "fits": amount + fee <= line["available"],
    }


def _draw_scope(user_id: int) -> str:
    return f"credit_line.draw:u{user_id}"


def draw(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    user_id: int,
    currency_code: str,
    merchant_id: int,
    amount: int,
    fee: int,
    risk: RiskEngine,
    reference: str | None = None,
    presence: Presence = UNKNOWN,
    terms: Terms | None = None,
) -> dict[str, Any]:
    """Pay ``amount`` to a partner merchant with the line. ``fee`` is the fee the user was shown
    (:func:`quote`): another fee now is refused (quote again). Screened like a payment; above the
    available credit (amount + fee) it is refused and nothing moves."""
    request = {"currency": currency_code, "merchant_id": merchant_id, "amount": amount, "fee": fee}
    scope = _draw_scope(user_id)
    replay = idem.claim(conn, scope, idempotency_key, request | {"reference": reference})
    if replay is not None:
        raise_if_refused(replay)
        return replay
    check_amount(amount)
    if reference is not None and not 0 < len(reference) <= REFERENCE_MAX_LEN:
        raise InvalidAmountError(f"reference must be 1–{REFERENCE_MAX_LEN} characters")
    cur = currency(currency_code)
    require_merchant_in(conn, merchant_id, cur)
    line = lock_line(conn, user_id, cur.code)
    terms = terms or Terms.from_settings()
    if fee != terms.fee(amount):
        raise FeeChangedError(f"the fee is now {terms.fee(amount)} {cur.code}, not {fee}: quote again")
    total, limit = amount + fee, int(line.credit_limit)
    before = owed(conn, ledger, line, cur)
    if before.line_debt > 0:
        raise CreditLineFrozenError(
            f"the credit line is frozen until the overdue {before.line_debt} {cur.code} is repaid"
        )
    _refuse_above_limit(total, max(0, limit - before.total), cur)
    now = ledger.clock.now_ns()
    screen_payment(
        conn,
        risk,
        scope=scope,
        idempotency_key=idempotency_key,
        user_id=user_id,
        merchant_id=merchant_id,
        amount=total,
        currency_code=cur.code,
        presence=presence,
        now_ns=now,
    )
    line = _bump(conn, line, now)
    xfer = _draw_money(conn, ledger, line, cur, before, merchant_id, amount, fee)
    _movement(
        conn,
        line,
        "draw",
        amount,
        now,
        fee=fee,
        merchant_id=merchant_id,
        reference=reference,
        transfer_id=enc128(xfer),
    )
    answer = request | {"reference": reference, "total": total, "transfer_id": str(xfer)}
    return idem.complete(
        conn, scope, idempotency_key, answer | {"line": view(conn, ledger, user_id, cur.code)}
    )


def _refuse_above_limit(total: int, available: int, cur: Currency) -> None:
    if total > available:
        raise CreditLimitExceededError(
            f"amount + fee = {total} {cur.code} is above the available credit of {available} {cur.code}"
        )


def _draw_money(
    conn: Connection,
    ledger: LedgerService,
    line: Any,
    cur: Currency,
    before: Any,
    merchant_id: int,
    amount: int,
    fee: int,
) -> int:
    """One linked chain: bring the available credit up to date, use ``amount + fee`` of it (refused by
    the ledger above it), then the line pays the merchant (less its payment fee) and the fees."""
    user_id, version = int(line.user_id), int(line.version)
    drawn, avail = drawn_account(user_id, cur), available_account(user_id, cur)
    merchant = settlement_account(merchant_id, cur)
    revenue = system_account(AccountKind.PLATFORM_REVENUE, cur)
    ensure_accounts(conn, ledger, [merchant, revenue])
    merchant_fee = amount * fee_bps_of(conn, merchant_id) // 10_000
    step = ("credit_line.draw", user_id, cur.code, version)
    chain = [t for t in [sync_leg(line, cur, before, int(line.credit_limit), before.total, "sync")] if t]
    chain += [
        legs.leg(
            transfer_id(*step, "use"),
            avail,
            grants_account(cur),
            amount + fee,
            TransferKind.CREDIT_LIMIT_USED,
            user_id,
        ),
        legs.leg(
            transfer_id(*step, "merchant"),
            drawn,
            merchant,
            amount - merchant_fee,
            TransferKind.CREDIT_DRAW,
            user_id,
        ),
        legs.leg(transfer_id(*step, "mfee"), drawn, revenue, merchant_fee, TransferKind.PAYMENT_FEE, user_id),
        legs.leg(transfer_id(*step, "fee"), drawn, revenue, fee, TransferKind.CREDIT_DRAW_FEE, user_id),
    ]
    try:
        submit(conn, ledger, legs.chain(chain))
    except InsufficientFundsError as exc:  # the ledger's own limit check (a concurrent change)
        raise CreditLimitExceededError("the draw is above the available credit; nothing moved") from exc
    return transfer_id(*step, "merchant")


def repay(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    user_id: int,
    currency_code: str,
    amount: int | None = None,
    source: str = "wallet",
) -> dict[str, Any]:
    """Repay ``amount`` (default: everything owed) from the user's wallet, or by a top-up recorded by an
    operator (``source="topup"``). The line's overdue debt is repaid first, then what is drawn; the
    available credit grows back by what was repaid (up to the limit)."""
    request = {"currency": currency_code, "amount": amount, "source": source}
    scope = f"credit_line.repay:u{user_id}"
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        return replay
    if source not in REPAY_SOURCES:
        raise InvalidAmountError(f"source must be one of {', '.join(REPAY_SOURCES)}")
    cur = currency(currency_code)
    line = lock_line(conn, user_id, cur.code)
    before = owed(conn, ledger, line, cur)
    if before.total == 0:
        raise OverRepaymentError("nothing is owed on the credit line")
    amount = before.total if amount is None else check_amount(amount)
    if amount > before.total:
        raise OverRepaymentError(f"{amount} {cur.code} is more than the {before.total} {cur.code} owed")
    now = ledger.clock.now_ns()
    to_debt = min(amount, before.line_debt)
    line = _bump(conn, line, now, line_debt=before.line_debt - to_debt)
    _repay_money(conn, ledger, line, cur, before, amount, to_debt, source)
    _movement(conn, line, "repay", amount, now, reference=source)
    statements.apply_repayment(conn, user_id, cur.code, amount, now)
    answer = request | {"amount": amount, "line": view(conn, ledger, user_id, cur.code)}
    return idem.complete(conn, scope, idempotency_key, answer)


def _repay_money(
    conn: Connection,
    ledger: LedgerService,
    line: Any,
    cur: Currency,
    before: Any,
    amount: int,
    to_debt: int,
    source: str,
) -> None:
    user_id, version = int(line.user_id), int(line.version)
    if source == "wallet":
        payer = user_account(user_id, cur)
    else:
        payer = system_account(AccountKind.OPERATOR_FUNDING, cur)
        ensure_accounts(conn, ledger, [payer])
    step = ("credit_line.repay", user_id, cur.code, version)
    chain = [
        legs.leg(
            transfer_id(*step, "debt"),
            payer,
            debt_account(user_id, cur),
            to_debt,
            TransferKind.DEBT_REPAID,
            user_id,
        ),
        legs.leg(
            transfer_id(*step, "line"),
            payer,
            drawn_account(user_id, cur),
            amount - to_debt,
            TransferKind.CREDIT_REPAID,
            user_id,
        ),
    ]
    grant = sync_leg(line, cur, before, int(line.credit_limit), before.total - amount, "sync")
    chain += [grant] if grant is not None else []
    try:
        submit(conn, ledger, legs.chain(chain))
    except InsufficientFundsError as exc:
        raise InsufficientFundsError(f"the wallet has less than {amount} {cur.code} available") from exc


def line_row(conn: Connection, user_id: int, currency_code: str) -> Any:
    return conn.execute(
        select(lines).where(lines.c.user_id == user_id, lines.c.currency == currency_code)
    ).first()
