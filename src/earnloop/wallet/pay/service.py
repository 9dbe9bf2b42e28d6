"""Paying partner merchants from the wallet (down to 1 minor unit), refunds, and one-time pay codes.

- ``create_order``: the merchant presents an order (its own order id, unique per merchant and
  idempotent; amount in its settlement currency) → ``awaiting_user`` until it expires. Users know it by
  its ``order_id``, a random token of 128 bits (the QR code and pay link carry it; the serial row id
  stays internal), so orders cannot be found by counting. An order may name its payer
  (``payer_user_id``): to anyone else it does not exist (404).
- ``confirm``: the user pays it from a wallet (any currency: a foreign wallet converts in the same linked
  chain at the current rate, so the merchant is always credited in its currency). The fee
  (``fee_bps`` of the merchant, floored, so a 1-unit payment pays none) goes to platform revenue:
  ``user → MERCHANT_SETTLEMENT (amount − fee)`` and ``user → PLATFORM_REVENUE (fee)``, linked.
- ``refund``: by the merchant, partial or full; cumulative refunds never exceed the payment (guarded
  UPDATE); the fee comes back in proportion; after FX the user gets back the same share of what was
  debited from the wallet.
- ``issue_pay_code`` / ``charge_pay_code``: the user shows a short-lived one-time code (found by its
  hash), optionally capped at the amount the user authorised (``max_amount``, in the code's currency);
  the merchant charges it with an amount and order id → the payment happens at once. A charge above
  the cap (what it would take from the wallet, after FX) is refused and leaves the code active: the
  cap is part of the guarded UPDATE that uses the code up.

Every state change is one guarded UPDATE taken before any ledger write (so row locks always come before
the ledger lock), and every failure rolls the whole unit of work back.

This module holds the use cases; the order rows are read and written in :mod:`.orders`, the ledger legs
built in :mod:`.legs`, pay codes issued and used up in :mod:`.codes`, and the errors (re-exported here)
live in :mod:`.errors`.
"""

from __future__ import annotations

import time
from typing import Any, cast

from sqlalchemy import Connection, case, insert, select, update

from earnloop.auth.service import get_partner, user_exists
from earnloop.currencies import Currency, currency
from earnloop.db import driver
from earnloop.db.upsert import dialect_insert
from earnloop.idempotency import service as idem
from earnloop.ledger.service import LedgerService
from earnloop.outbox import service as outbox
from earnloop.risk.engine import RiskEngine
from earnloop.wallet.errors import InvalidAmountError, NotFoundError, StateConflictError
from earnloop.wallet.fx import service as fx
from earnloop.wallet.ledger_ops import balance_of
from earnloop.wallet.pay import legs, orders
from earnloop.wallet.pay.codes import PAY_CODE_DIGITS as PAY_CODE_DIGITS
from earnloop.wallet.pay.codes import PAY_CODE_RE, code_digest, use_code
from earnloop.wallet.pay.codes import PAY_CODE_TTL_S as PAY_CODE_TTL_S
from earnloop.wallet.pay.codes import issue_pay_code as issue_pay_code

# Part of the payments API (callers use ``pay.BPS``, ``pay.RefundExceedsPaymentError`` …).
from earnloop.wallet.pay.errors import CurrencyMismatchError as CurrencyMismatchError
from earnloop.wallet.pay.errors import DuplicateOrderError as DuplicateOrderError
from earnloop.wallet.pay.errors import NotAMerchantError as NotAMerchantError
from earnloop.wallet.pay.errors import OrderExpiredError as OrderExpiredError
from earnloop.wallet.pay.errors import PayCodeExpiredError as PayCodeExpiredError
from earnloop.wallet.pay.errors import PayCodeLimitError as PayCodeLimitError
from earnloop.wallet.pay.errors import PayCodeUsedError as PayCodeUsedError
from earnloop.wallet.pay.errors import RefundExceedsPaymentError as RefundExceedsPaymentError
from earnloop.wallet.pay.models import merchant_pay_settings, pay_codes, pay_orders, pay_refunds
from earnloop.wallet.pay.orders import BPS as BPS
from earnloop.wallet.pay.orders import DEFAULT_FEE_BPS as DEFAULT_FEE_BPS
from earnloop.wallet.pay.orders import ORDER_ID_RE as ORDER_ID_RE
from earnloop.wallet.pay.orders import ORDER_TOKEN_RE as ORDER_TOKEN_RE
from earnloop.wallet.pay.risk import screen_payment
from earnloop.wallet.pay.schemas import Fee, Order, Refund, Settlement, UserOrder
from earnloop.wallet.screening import UNKNOWN, Presence, event_ref, raise_if_refused
from earnloop.wallet.service import check_amount, require_wallet

FEE_MAX_BPS = 5_000
ORDER_TTL_S = 15 * 60
ORDER_TTL_MIN_S, ORDER_TTL_MAX_S = 30, 24 * 3600
REASON_MAX_LEN = 500
EXPIRE_BATCH_MAX = 2_000
REFUNDABLE = ("paid", "partially_refunded")


# -- merchants ----------------------------------------------------------------------------------------
def set_fee(conn: Connection, *, merchant_id: int, fee_bps: int) -> Fee:
    """Set a merchant's fee rate (applies to orders created from now on)."""
    orders.require_merchant(conn, merchant_id)
    if not isinstance(fee_bps, int) or isinstance(fee_bps, bool) or not 0 <= fee_bps <= FEE_MAX_BPS:
        raise InvalidAmountError(f"fee_bps must be an integer 0–{FEE_MAX_BPS}")
    statement = dialect_insert(conn, merchant_pay_settings).values(
        partner_id=merchant_id, fee_bps=fee_bps, updated_at_ns=time.time_ns()
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["partner_id"],
            set_={"fee_bps": statement.excluded.fee_bps, "updated_at_ns": statement.excluded.updated_at_ns},
        )
    )
    return {"merchant_id": merchant_id, "fee_bps": fee_bps}


def settlement_balance(conn: Connection, ledger: LedgerService, merchant_id: int) -> Settlement:
    """What the platform owes the merchant (its settlement account, in its settlement currency)."""
    merchant = orders.require_merchant(conn, merchant_id)
    cur = currency(merchant.settlement_currency)
    account = balance_of(conn, ledger, orders.settlement_account(merchant_id, cur))
    balance = 0 if account is None else account.credits_posted - account.debits_posted
    return {"merchant_id": merchant_id, "currency": cur.code, "balance": balance}


def create_order(
    conn: Connection,
    ledger: LedgerService,
    *,
    merchant_id: int,
    merchant_order_id: str,
    amount: int,
    currency_code: str | None = None,
    ttl_s: int = ORDER_TTL_S,
    payer_user_id: int | None = None,
) -> Order:
    """A merchant presents an order; idempotent on its order id (same body → the same answer). With
    ``payer_user_id`` only that user can see and pay it."""
    request = {"amount": amount, "currency": currency_code, "ttl_s": ttl_s, "payer_user_id": payer_user_id}
    scope = f"pay.order:m{merchant_id}"
    replay = idem.claim(conn, scope, orders.check_order_id(merchant_order_id), request)
    if replay is not None:
        return cast(Order, replay)
    merchant = orders.require_merchant(conn, merchant_id)
    cur = orders.order_currency(merchant, currency_code)
    check_amount(amount)
    if not isinstance(ttl_s, int) or not ORDER_TTL_MIN_S <= ttl_s <= ORDER_TTL_MAX_S:
        raise InvalidAmountError(f"ttl_s must be {ORDER_TTL_MIN_S}–{ORDER_TTL_MAX_S} seconds")
    if payer_user_id is not None and not user_exists(conn, payer_user_id):
        raise NotFoundError(f"no user {payer_user_id}")
    now = ledger.clock.now_ns()
    order_id = orders.insert_order(
        conn,
        merchant,
        merchant_order_id,
        amount,
        cur,
        source="order",
        now_ns=now,
        ttl_s=ttl_s,
        payer_user_id=payer_user_id,
    )
    return idem.complete(conn, scope, merchant_order_id, orders.order_dict(orders.load(conn, order_id), now))


def merchant_order(
    conn: Connection, ledger: LedgerService, *, merchant_id: int, merchant_order_id: str
) -> Order:
    """The merchant's view of one of its orders (current state)."""
    return orders.order_dict(
        orders.load_merchant_order(conn, merchant_id, merchant_order_id), ledger.clock.now_ns()
    )


def user_order(conn: Connection, ledger: LedgerService, *, user_id: int, token: str) -> UserOrder:
    """An order (by its token) as the user sees it before paying (anyone holding the token, unless the
    order names its payer) or after (only the payer)."""
    row = orders.load_for_user(conn, user_id, token=token)
    merchant = get_partner(conn, row.merchant_id)
    return {
        **orders.order_dict(row, ledger.clock.now_ns()),
        "merchant_name": merchant.name if merchant else "",
    }


def expire_due_orders(conn: Connection, now_ns: int) -> int:
    """Mark unpaid orders past their expiry as ``expired`` (the view already shows them so)."""
    due = (
        select(pay_orders.c.id)
        .where(pay_orders.c.state == "awaiting_user", pay_orders.c.expires_at_ns <= now_ns)
        .limit(EXPIRE_BATCH_MAX)
        .scalar_subquery()
    )
    result = conn.execute(
        update(pay_orders)
        .where(pay_orders.c.id.in_(due), pay_orders.c.state == "awaiting_user")
        .values(state="expired", updated_at_ns=now_ns)
    )
    return int(result.rowcount)


def _pay(
    conn: Connection, ledger: LedgerService, row: Any, user_id: int, pay_cur: Currency, now: int
) -> Order:
    """Move the money for an ``awaiting_user`` order and mark it paid (guarded)."""
    order_cur = currency(row.currency)
    quote = None if pay_cur == order_cur else fx.payment_cost(conn, pay_cur, order_cur, row.amount, now)
    pay_amount = row.amount if quote is None else quote.cost(row.amount)
    paid = driver.execute(
        conn,
        orders.MARK_PAID,
        {
            "order_id": row.id,
            "now": now,
            "user_id": user_id,
            "pay_currency": pay_cur.code,
            "pay_amount": pay_amount,
            "fx_rate_id": None if quote is None else quote.rate_id,
        },
    )
    if paid.rowcount != 1:
        current = orders.load(conn, row.id)
        if orders.state_of(current, now) == "expired":
            raise OrderExpiredError(f"order {row.merchant_order_id!r} expired; ask for a new one")
        raise StateConflictError(f"order {row.merchant_order_id!r} is {current.state}")
    legs.pay_money(conn, ledger, row, user_id, pay_cur, pay_amount)
    answer = orders.order_dict(orders.load(conn, row.id), now)
    outbox.emit(
        conn,
        topic="payment.succeeded",
        payload={k: answer[k] for k in ("merchant_order_id", "amount", "currency", "fee", "source")}
        | {"order_id": row.token}
        | {"paid_at_ns": now},
        partner_id=row.merchant_id,
    )
    return answer


def _confirm_scope(user_id: int) -> str:
    return f"pay.confirm:u{user_id}"


def confirm_screened_ref(user_id: int, idempotency_key: str) -> str:
    """The reference an order confirmation's risk decision is recorded under."""
    return event_ref("payment", _confirm_scope(user_id), idempotency_key)


def confirm(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    user_id: int,
    risk: RiskEngine,
    token: str | None = None,
    order_id: int | None = None,
    pay_currency: str | None = None,
    presence: Presence = UNKNOWN,
) -> Order:
    """The user pays an order from its wallet in ``pay_currency`` (default: the order's currency). Users
    name the order by its ``token`` (HTTP, the CLI); trusted callers (the demo) may use the internal
    ``order_id``. An order meant for another payer is a 404, as if it did not exist. The payment is
    screened first (``pay/risk.py``): a refusal raises :class:`~earnloop.wallet.screening.RiskRefusedError`
    after storing itself as the key's answer."""
    request = {"token": token, "order_id": order_id, "pay_currency": pay_currency}
    scope = _confirm_scope(user_id)
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        raise_if_refused(replay)
        return cast(Order, replay)
    row = orders.load_for_user(conn, user_id, token=token, order_id=order_id)
    pay_cur = require_wallet(conn, user_id, pay_currency or row.currency)
    now = ledger.clock.now_ns()
    if orders.state_of(row, now) == "awaiting_user":  # a paid or expired order is refused by _pay
        screen_payment(
            conn,
            risk,
            scope=scope,
            idempotency_key=idempotency_key,
            user_id=user_id,
            merchant_id=int(row.merchant_id),
            amount=int(row.amount),
            currency_code=str(row.currency),
            presence=presence,
            now_ns=now,
        )
    answer = _pay(conn, ledger, row, user_id, pay_cur, now)
    return idem.complete(conn, scope, idempotency_key, answer)


# -- refunds ------------------------------------------------------------------------------------------
def refund(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    merchant_id: int,
    merchant_order_id: str,
    amount: int | None = None,
    reason: str = "",
) -> Refund:
    """Refund part (``amount``) or all the rest (``None``) of a paid order to the payer."""
    request = {"merchant_order_id": merchant_order_id, "amount": amount, "reason": reason}
    scope = f"pay.refund:m{merchant_id}"
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        return cast(Refund, replay)
    orders.require_merchant(conn, merchant_id)
    if len(reason) > REASON_MAX_LEN:
        raise InvalidAmountError(f"reason: at most {REASON_MAX_LEN} characters")
    row = orders.load_merchant_order(conn, merchant_id, merchant_order_id)
    now = ledger.clock.now_ns()
    if row.state not in REFUNDABLE:
        raise StateConflictError(
            f"order {merchant_order_id!r} is {orders.state_of(row, now)}: nothing to refund"
        )
    amount = row.amount - row.refunded if amount is None else check_amount(amount)
    _take_refund(conn, row, amount, now)
    row = orders.load(conn, row.id)  # locked by the update above: the cumulative figures are final
    refund_id, fee_part, pay_part = _record_refund(conn, row, amount, reason, now)
    legs.refund_money(conn, ledger, row, refund_id, amount, fee_part, pay_part)
    order = orders.order_dict(orders.load(conn, row.id), now)
    answer: Refund = {
        "refund_id": refund_id,
        "amount": amount,
        "fee_part": fee_part,
        "pay_part": pay_part,
        "order": order,
    }
    _emit_refunded(conn, row, refund_id, amount, order)
    return idem.complete(conn, scope, idempotency_key, answer)


def _take_refund(conn: Connection, row: Any, amount: int, now: int) -> None:
    """Add ``amount`` to the order's refunded total (one guarded UPDATE: never beyond what was paid)."""
    t = pay_orders.c
    guarded = conn.execute(
        update(pay_orders)
        .where(t.id == row.id, t.state.in_(REFUNDABLE), t.refunded + amount <= t.amount)
        .values(
            refunded=t.refunded + amount,
            state=case((t.refunded + amount == t.amount, "refunded"), else_="partially_refunded"),
            updated_at_ns=now,
        )
    )
    if guarded.rowcount != 1:
        current = orders.load(conn, row.id)
        if current.state not in REFUNDABLE:
            raise StateConflictError(f"order {row.merchant_order_id!r} is {current.state}: nothing to refund")
        raise RefundExceedsPaymentError(
            f"refund of {amount} exceeds the {current.amount - current.refunded} left to refund"
        )


def _record_refund(conn: Connection, row: Any, amount: int, reason: str, now: int) -> tuple[int, int, int]:
    """The refund's share of the fee and of what the user paid (cumulative, floored), recorded on the
    order and as a refund row; returns (refund id, fee part, pay part)."""
    t = pay_orders.c
    fee_part = row.fee * row.refunded // row.amount - row.fee_refunded
    pay_part = row.pay_amount * row.refunded // row.amount - row.pay_refunded
    conn.execute(
        update(pay_orders)
        .where(t.id == row.id)
        .values(fee_refunded=t.fee_refunded + fee_part, pay_refunded=t.pay_refunded + pay_part)
    )
    refund_id = conn.execute(
        insert(pay_refunds)
        .values(
            order_id=row.id,
            amount=amount,
            fee_part=fee_part,
            pay_part=pay_part,
            reason=reason,
            created_at_ns=now,
        )
        .returning(pay_refunds.c.id)
    ).scalar_one()
    return int(refund_id), fee_part, pay_part


def _emit_refunded(conn: Connection, row: Any, refund_id: int, amount: int, order: Order) -> None:
    outbox.emit(
        conn,
        topic="payment.refunded",
        payload={
            "order_id": row.token,
            "merchant_order_id": row.merchant_order_id,
            "refund_id": refund_id,
            "amount": amount,
            "currency": row.currency,
            "refunded_total": order["refunded"],
            "state": order["state"],
        },
        partner_id=row.merchant_id,
    )


# -- pay codes ----------------------------------------------------------------------------------------
def charge_pay_code(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    merchant_id: int,
    code: str,
    merchant_order_id: str,
    amount: int,
    risk: RiskEngine,
    currency_code: str | None = None,
) -> Order:
    """The merchant charges a user's pay code: the order is created and paid in one step, once the
    payment is screened (the code is used up even when screening refuses it; the request comes from
    the till, so the payer's device and network are not known). A charge above the code's cap is refused
    (:class:`PayCodeLimitError`): nothing is paid and the code stays active."""
    digest = code_digest(code) if isinstance(code, str) else ""
    request = {
        "code_sha256": digest,
        "merchant_order_id": merchant_order_id,
        "amount": amount,
        "currency": currency_code,
    }
    scope = f"pay.charge:m{merchant_id}"
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        raise_if_refused(replay)
        return cast(Order, replay)
    merchant = orders.require_merchant(conn, merchant_id)
    cur = orders.order_currency(merchant, currency_code)
    orders.check_order_id(merchant_order_id)
    check_amount(amount)
    if not PAY_CODE_RE.match(code):
        raise NotFoundError("unknown pay code")
    now = ledger.clock.now_ns()
    found = use_code(conn, digest, now, cur, amount)
    screen_payment(
        conn,
        risk,
        scope=scope,
        idempotency_key=idempotency_key,
        user_id=int(found.user_id),
        merchant_id=merchant_id,
        amount=amount,
        currency_code=cur.code,
        presence=UNKNOWN,
        now_ns=now,
    )
    order_id = orders.insert_order(
        conn,
        merchant,
        merchant_order_id,
        amount,
        cur,
        source="code",
        now_ns=now,
        ttl_s=ORDER_TTL_S,
        payer_user_id=None,  # paid at once below; whoever holds its token sees it as paid (409 to pay)
    )
    conn.execute(update(pay_codes).where(pay_codes.c.id == found.id).values(order_id=order_id))
    pay_cur = require_wallet(conn, found.user_id, found.currency)
    answer = _pay(conn, ledger, orders.load(conn, order_id), found.user_id, pay_cur, now)
    return idem.complete(conn, scope, idempotency_key, answer)
