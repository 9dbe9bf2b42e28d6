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
- ``issue_pay_code`` / ``charge_pay_code``: the user shows a short-lived one-time code (only its hash is
  stored); the merchant charges it with an amount and order id → the payment happens at once.

Every state change is one guarded UPDATE taken before any ledger write (so row locks always come before
the ledger lock), and every failure rolls the whole unit of work back.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Any

from sqlalchemy import Connection, bindparam, case, insert, select, update
from sqlalchemy.exc import IntegrityError

from earnloop.auth.service import Partner, get_partner, user_exists
from earnloop.currencies import Currency, currency
from earnloop.db import driver
from earnloop.db.upsert import dialect_insert
from earnloop.idempotency import service as idem
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import Transfer, TransferFlags
from earnloop.outbox import service as outbox
from earnloop.wallet import fx
from earnloop.wallet.chart import AccountKind, AccountRef, TransferKind, transfer_id
from earnloop.wallet.errors import InvalidAmountError, NotFoundError, StateConflictError, WalletError
from earnloop.wallet.ledger_ops import balance_of, ensure_accounts, submit
from earnloop.wallet.pay_models import merchant_pay_settings, pay_codes, pay_orders, pay_refunds
from earnloop.wallet.service import check_amount, require_wallet, system_account, user_account

BPS = 10_000
DEFAULT_FEE_BPS = 150
FEE_MAX_BPS = 5_000
ORDER_TTL_S = 15 * 60
ORDER_TTL_MIN_S, ORDER_TTL_MAX_S = 30, 24 * 3600
PAY_CODE_TTL_S = 120
PAY_CODE_DIGITS = 18
ORDER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
ORDER_TOKEN_BYTES = 16  # 128 bits: 22 URL-safe characters
ORDER_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PAY_CODE_RE = re.compile(rf"^[0-9]{{{PAY_CODE_DIGITS}}}$")
REASON_MAX_LEN = 500
EXPIRE_BATCH_MAX = 2_000
NS = 1_000_000_000
REFUNDABLE = ("paid", "partially_refunded")

# The statements of a payment (order, confirm), built once and run on the driver (ADR 0011): built
# per call, SQLAlchemy's construction and cache key cost more than SQLite's own work.
_FEE_BPS = select(merchant_pay_settings.c.fee_bps).where(
    merchant_pay_settings.c.partner_id == bindparam("partner_id")
)
_ORDER = select(pay_orders).where(pay_orders.c.id == bindparam("order_id"))
_ORDER_BY_TOKEN = select(pay_orders).where(pay_orders.c.token == bindparam("token"))
_INSERT_ORDER = insert(pay_orders).returning(pay_orders.c.id)
_MARK_PAID = (
    update(pay_orders)
    .where(
        pay_orders.c.id == bindparam("order_id"),
        pay_orders.c.state == "awaiting_user",
        pay_orders.c.expires_at_ns > bindparam("now"),
    )
    .values(
        state="paid",
        user_id=bindparam("user_id"),
        pay_currency=bindparam("pay_currency"),
        pay_amount=bindparam("pay_amount"),
        fx_rate_id=bindparam("fx_rate_id"),
        paid_at_ns=bindparam("now"),
        updated_at_ns=bindparam("now"),
    )
)


class NotAMerchantError(WalletError):
    status = 403
    slug = "not-a-merchant"
    title = "Only merchant partners can take payments"


class CurrencyMismatchError(WalletError):
    status = 422
    slug = "currency-mismatch"
    title = "Orders are in the merchant's settlement currency"


class DuplicateOrderError(WalletError):
    status = 409
    slug = "duplicate-order"
    title = "This order id is taken"


class OrderExpiredError(WalletError):
    status = 409
    slug = "order-expired"
    title = "The order has expired"


class RefundExceedsPaymentError(WalletError):
    status = 422
    slug = "refund-exceeds-payment"
    title = "Refunds cannot exceed what was paid"


class PayCodeUsedError(WalletError):
    status = 409
    slug = "pay-code-used"
    title = "This pay code was already used"


class PayCodeExpiredError(WalletError):
    status = 422
    slug = "pay-code-expired"
    title = "This pay code has expired"


# -- merchants ----------------------------------------------------------------------------------------
def require_merchant(conn: Connection, merchant_id: int) -> Partner:
    partner = get_partner(conn, merchant_id)
    if partner is None:
        raise NotFoundError(f"no partner {merchant_id}")
    if partner.kind != "merchant":
        raise NotAMerchantError(f"partner {merchant_id} is a {partner.kind}, not a merchant")
    return partner


def fee_bps_of(conn: Connection, merchant_id: int) -> int:
    found = driver.scalar(conn, _FEE_BPS, {"partner_id": merchant_id})
    return DEFAULT_FEE_BPS if found is None else int(found)


def set_fee(conn: Connection, *, merchant_id: int, fee_bps: int) -> dict[str, Any]:
    """Set a merchant's fee rate (applies to orders created from now on)."""
    require_merchant(conn, merchant_id)
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


def settlement_balance(conn: Connection, ledger: LedgerService, merchant_id: int) -> dict[str, Any]:
    """What the platform owes the merchant (its settlement account, in its settlement currency)."""
    merchant = require_merchant(conn, merchant_id)
    cur = currency(merchant.settlement_currency)
    account = balance_of(conn, ledger, _settlement(merchant_id, cur))
    balance = 0 if account is None else account.credits_posted - account.debits_posted
    return {"merchant_id": merchant_id, "currency": cur.code, "balance": balance}


def _settlement(merchant_id: int, cur: Currency) -> AccountRef:
    return AccountRef(AccountKind.MERCHANT_SETTLEMENT, merchant_id, cur)


# -- orders -------------------------------------------------------------------------------------------
def _state(row: Any, now_ns: int) -> str:
    if row.state == "awaiting_user" and row.expires_at_ns <= now_ns:
        return "expired"
    return str(row.state)


def _order_dict(row: Any, now_ns: int) -> dict[str, Any]:
    return {
        "order_id": row.id,
        "token": row.token,
        "merchant_id": row.merchant_id,
        "payer_user_id": row.payer_user_id,
        "merchant_order_id": row.merchant_order_id,
        "amount": row.amount,
        "currency": row.currency,
        "fee": row.fee,
        "fee_bps": row.fee_bps,
        "state": _state(row, now_ns),
        "source": row.source,
        "user_id": row.user_id,
        "pay_currency": row.pay_currency,
        "pay_amount": row.pay_amount,
        "refunded": row.refunded,
        "created_at_ns": row.created_at_ns,
        "expires_at_ns": row.expires_at_ns,
        "paid_at_ns": row.paid_at_ns,
    }


def _load(conn: Connection, order_id: int) -> Any:
    return driver.first(conn, _ORDER, {"order_id": order_id})


def _load_for_user(conn: Connection, user_id: int, *, token: str | None, order_id: int | None = None) -> Any:
    """The order behind a token (or, for trusted callers, its internal id), if ``user_id`` may see it;
    else 404, the same answer as for a token that does not exist. By its token an order is seen by
    anyone holding the token while it awaits payment (unless it names another payer), and by its payer
    only once paid: a stranger learns nothing of its state."""
    row = None
    by_token = isinstance(token, str) and ORDER_TOKEN_RE.match(token) is not None
    if by_token:
        row = driver.first(conn, _ORDER_BY_TOKEN, {"token": token})
    elif token is None and isinstance(order_id, int):
        row = _load(conn, order_id)
    if row is None or (row.payer_user_id is not None and row.payer_user_id != user_id):
        raise NotFoundError("no such order")
    if by_token and row.state != "awaiting_user" and row.user_id != user_id:
        raise NotFoundError("no such order")
    return row


def _load_merchant_order(conn: Connection, merchant_id: int, merchant_order_id: str) -> Any:
    row = conn.execute(
        select(pay_orders).where(
            pay_orders.c.merchant_id == merchant_id, pay_orders.c.merchant_order_id == merchant_order_id
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no order {merchant_order_id!r}")
    return row


def _check_order_id(merchant_order_id: str) -> str:
    if not isinstance(merchant_order_id, str) or not ORDER_ID_RE.match(merchant_order_id):
        raise InvalidAmountError("order id: 1–100 of A-Z a-z 0-9 _ . : - starting with a letter or digit")
    return merchant_order_id


def _order_currency(merchant: Partner, currency_code: str | None) -> Currency:
    settlement = currency(merchant.settlement_currency)
    if currency_code is not None and currency(currency_code) != settlement:
        raise CurrencyMismatchError(
            f"this merchant takes orders in {settlement.code}, not {currency_code.upper()}"
        )
    return settlement


def _insert_order(
    conn: Connection,
    merchant: Partner,
    merchant_order_id: str,
    amount: int,
    cur: Currency,
    *,
    source: str,
    now_ns: int,
    ttl_s: int,
    payer_user_id: int | None,
) -> int:
    fee_bps = fee_bps_of(conn, merchant.id)
    try:
        with driver.savepoint(conn):
            order_id = driver.scalar(
                conn,
                _INSERT_ORDER,
                {
                    "token": secrets.token_urlsafe(ORDER_TOKEN_BYTES),
                    "merchant_id": merchant.id,
                    "payer_user_id": payer_user_id,
                    "merchant_order_id": merchant_order_id,
                    "amount": amount,
                    "currency": cur.code,
                    "fee_bps": fee_bps,
                    "fee": amount * fee_bps // BPS,
                    "state": "awaiting_user",
                    "source": source,
                    "refunded": 0,
                    "fee_refunded": 0,
                    "pay_refunded": 0,
                    "created_at_ns": now_ns,
                    "expires_at_ns": now_ns + ttl_s * NS,
                    "updated_at_ns": now_ns,
                },
            )
    except IntegrityError as exc:
        raise DuplicateOrderError(f"order id {merchant_order_id!r} was used before") from exc
    return int(order_id)


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
) -> dict[str, Any]:
    """A merchant presents an order; idempotent on its order id (same body → the same answer). With
    ``payer_user_id`` only that user can see and pay it."""
    request = {"amount": amount, "currency": currency_code, "ttl_s": ttl_s, "payer_user_id": payer_user_id}
    scope = f"pay.order:m{merchant_id}"
    replay = idem.claim(conn, scope, _check_order_id(merchant_order_id), request)
    if replay is not None:
        return replay
    merchant = require_merchant(conn, merchant_id)
    cur = _order_currency(merchant, currency_code)
    check_amount(amount)
    if not isinstance(ttl_s, int) or not ORDER_TTL_MIN_S <= ttl_s <= ORDER_TTL_MAX_S:
        raise InvalidAmountError(f"ttl_s must be {ORDER_TTL_MIN_S}–{ORDER_TTL_MAX_S} seconds")
    if payer_user_id is not None and not user_exists(conn, payer_user_id):
        raise NotFoundError(f"no user {payer_user_id}")
    now = ledger.clock.now_ns()
    order_id = _insert_order(
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
    return idem.complete(conn, scope, merchant_order_id, _order_dict(_load(conn, order_id), now))


def merchant_order(
    conn: Connection, ledger: LedgerService, *, merchant_id: int, merchant_order_id: str
) -> dict[str, Any]:
    """The merchant's view of one of its orders (current state)."""
    return _order_dict(_load_merchant_order(conn, merchant_id, merchant_order_id), ledger.clock.now_ns())


def user_order(conn: Connection, ledger: LedgerService, *, user_id: int, token: str) -> dict[str, Any]:
    """An order (by its token) as the user sees it before paying (anyone holding the token, unless the
    order names its payer) or after (only the payer)."""
    row = _load_for_user(conn, user_id, token=token)
    merchant = get_partner(conn, row.merchant_id)
    return {**_order_dict(row, ledger.clock.now_ns()), "merchant_name": merchant.name if merchant else ""}


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


def _chain(transfers: list[Transfer]) -> list[Transfer]:
    """Drop empty legs, link the rest (all but the last) so they succeed or fail together."""
    kept = [t for t in transfers if t.amount > 0]
    for t in kept[:-1]:
        t.flags |= TransferFlags.LINKED
    return kept


def _leg(
    xfer_id: int, debit: AccountRef, credit: AccountRef, amount: int, kind: TransferKind, order_id: int
) -> Transfer:
    return Transfer(
        id=xfer_id,
        debit_account_id=debit.id,
        credit_account_id=credit.id,
        amount=amount,
        ledger=debit.ledger,
        code=int(kind),
        user_data_64=order_id,
    )


def _pay(
    conn: Connection, ledger: LedgerService, row: Any, user_id: int, pay_cur: Currency, now: int
) -> dict[str, Any]:
    """Move the money for an ``awaiting_user`` order and mark it paid (guarded)."""
    order_cur = currency(row.currency)
    quote = None if pay_cur == order_cur else fx.payment_cost(conn, pay_cur, order_cur, row.amount, now)
    pay_amount = row.amount if quote is None else quote.cost(row.amount)
    paid = driver.execute(
        conn,
        _MARK_PAID,
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
        current = _load(conn, row.id)
        if _state(current, now) == "expired":
            raise OrderExpiredError(f"order {row.merchant_order_id!r} expired; ask for a new one")
        raise StateConflictError(f"order {row.merchant_order_id!r} is {current.state}")
    user = user_account(user_id, pay_cur)
    merchant = _settlement(row.merchant_id, order_cur)
    revenue = system_account(AccountKind.PLATFORM_REVENUE, order_cur)
    refs = [merchant, revenue]
    net, fee = row.amount - row.fee, row.fee
    step = ("pay.order", row.id)
    if quote is None:
        legs = [
            _leg(transfer_id(*step, "merchant"), user, merchant, net, TransferKind.PAYMENT, row.id),
            _leg(transfer_id(*step, "fee"), user, revenue, fee, TransferKind.PAYMENT_FEE, row.id),
        ]
    else:
        position_pay = system_account(AccountKind.FX_POSITION, pay_cur)
        position_order = system_account(AccountKind.FX_POSITION, order_cur)
        refs += [position_pay, position_order]
        legs = [
            _leg(transfer_id(*step, "fx"), user, position_pay, pay_amount, TransferKind.PAYMENT, row.id),
            _leg(transfer_id(*step, "merchant"), position_order, merchant, net, TransferKind.PAYMENT, row.id),
            _leg(transfer_id(*step, "fee"), position_order, revenue, fee, TransferKind.PAYMENT_FEE, row.id),
        ]
    ensure_accounts(conn, ledger, refs)
    submit(conn, ledger, _chain(legs))
    answer = _order_dict(_load(conn, row.id), now)
    outbox.emit(
        conn,
        topic="payment.succeeded",
        payload={k: answer[k] for k in ("merchant_order_id", "amount", "currency", "fee", "source")}
        | {"order_id": row.token}
        | {"paid_at_ns": now},
        partner_id=row.merchant_id,
    )
    return answer


def confirm(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    user_id: int,
    token: str | None = None,
    order_id: int | None = None,
    pay_currency: str | None = None,
) -> dict[str, Any]:
    """The user pays an order from its wallet in ``pay_currency`` (default: the order's currency). Users
    name the order by its ``token`` (HTTP, the CLI); trusted callers (the demo) may use the internal
    ``order_id``. An order meant for another payer is a 404, as if it did not exist."""
    request = {"token": token, "order_id": order_id, "pay_currency": pay_currency}
    scope = f"pay.confirm:u{user_id}"
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        return replay
    row = _load_for_user(conn, user_id, token=token, order_id=order_id)
    pay_cur = require_wallet(conn, user_id, pay_currency or row.currency)
    answer = _pay(conn, ledger, row, user_id, pay_cur, ledger.clock.now_ns())
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
) -> dict[str, Any]:
    """Refund part (``amount``) or all the rest (``None``) of a paid order to the payer."""
    request = {"merchant_order_id": merchant_order_id, "amount": amount, "reason": reason}
    scope = f"pay.refund:m{merchant_id}"
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        return replay
    require_merchant(conn, merchant_id)
    if len(reason) > REASON_MAX_LEN:
        raise InvalidAmountError(f"reason: at most {REASON_MAX_LEN} characters")
    row = _load_merchant_order(conn, merchant_id, merchant_order_id)
    now = ledger.clock.now_ns()
    if row.state not in REFUNDABLE:
        raise StateConflictError(f"order {merchant_order_id!r} is {_state(row, now)}: nothing to refund")
    amount = row.amount - row.refunded if amount is None else check_amount(amount)
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
        current = _load(conn, row.id)
        if current.state not in REFUNDABLE:
            raise StateConflictError(f"order {merchant_order_id!r} is {current.state}: nothing to refund")
        raise RefundExceedsPaymentError(
            f"refund of {amount} exceeds the {current.amount - current.refunded} left to refund"
        )
    row = _load(conn, row.id)  # locked by the update above: the cumulative figures are final
    fee_part = row.fee * row.refunded // row.amount - row.fee_refunded
    pay_part = row.pay_amount * row.refunded // row.amount - row.pay_refunded
    conn.execute(
        update(pay_orders)
        .where(t.id == row.id)
        .values(fee_refunded=t.fee_refunded + fee_part, pay_refunded=t.pay_refunded + pay_part)
    )
    refund_id = int(
        conn.execute(
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
    )
    _refund_money(conn, ledger, row, refund_id, amount, fee_part, pay_part)
    order = _order_dict(_load(conn, row.id), now)
    answer = {
        "refund_id": refund_id,
        "amount": amount,
        "fee_part": fee_part,
        "pay_part": pay_part,
        "order": order,
    }
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
        partner_id=merchant_id,
    )
    return idem.complete(conn, scope, idempotency_key, answer)


def _refund_money(
    conn: Connection,
    ledger: LedgerService,
    row: Any,
    refund_id: int,
    amount: int,
    fee_part: int,
    pay_part: int,
) -> None:
    order_cur, pay_cur = currency(row.currency), currency(row.pay_currency)
    user = user_account(row.user_id, pay_cur)
    merchant = _settlement(row.merchant_id, order_cur)
    revenue = system_account(AccountKind.PLATFORM_REVENUE, order_cur)
    step = ("pay.refund", refund_id)
    kind = TransferKind.REFUND
    if pay_cur == order_cur:
        legs = [
            _leg(transfer_id(*step, "merchant"), merchant, user, amount - fee_part, kind, row.id),
            _leg(transfer_id(*step, "fee"), revenue, user, fee_part, kind, row.id),
        ]
    else:
        position_order = system_account(AccountKind.FX_POSITION, order_cur)
        position_pay = system_account(AccountKind.FX_POSITION, pay_cur)
        legs = [
            _leg(transfer_id(*step, "merchant"), merchant, position_order, amount - fee_part, kind, row.id),
            _leg(transfer_id(*step, "fee"), revenue, position_order, fee_part, kind, row.id),
            _leg(transfer_id(*step, "fx"), position_pay, user, pay_part, kind, row.id),
        ]
    submit(conn, ledger, _chain(legs))


# -- pay codes ----------------------------------------------------------------------------------------
def _code_digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def issue_pay_code(
    conn: Connection, ledger: LedgerService, *, user_id: int, currency_code: str
) -> dict[str, Any]:
    """A fresh one-time code for paying from the user's wallet in ``currency_code`` (shown once)."""
    cur = require_wallet(conn, user_id, currency_code)
    now = ledger.clock.now_ns()
    code = f"{secrets.randbelow(10**PAY_CODE_DIGITS):0{PAY_CODE_DIGITS}d}"
    expires = now + PAY_CODE_TTL_S * NS
    conn.execute(
        insert(pay_codes).values(
            code_sha256=_code_digest(code),
            user_id=user_id,
            currency=cur.code,
            state="active",
            created_at_ns=now,
            expires_at_ns=expires,
        )
    )
    return {"code": code, "currency": cur.code, "expires_at_ns": expires}


def charge_pay_code(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    merchant_id: int,
    code: str,
    merchant_order_id: str,
    amount: int,
    currency_code: str | None = None,
) -> dict[str, Any]:
    """The merchant charges a user's pay code: the order is created and paid in one step."""
    digest = _code_digest(code) if isinstance(code, str) else ""
    request = {
        "code_sha256": digest,
        "merchant_order_id": merchant_order_id,
        "amount": amount,
        "currency": currency_code,
    }
    scope = f"pay.charge:m{merchant_id}"
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        return replay
    merchant = require_merchant(conn, merchant_id)
    cur = _order_currency(merchant, currency_code)
    _check_order_id(merchant_order_id)
    check_amount(amount)
    if not PAY_CODE_RE.match(code):
        raise NotFoundError("unknown pay code")
    found = conn.execute(select(pay_codes).where(pay_codes.c.code_sha256 == digest)).first()
    if found is None:
        raise NotFoundError("unknown pay code")
    now = ledger.clock.now_ns()
    used = conn.execute(
        update(pay_codes)
        .where(pay_codes.c.id == found.id, pay_codes.c.state == "active", pay_codes.c.expires_at_ns > now)
        .values(state="used", used_at_ns=now)
    )
    if used.rowcount != 1:
        current = conn.execute(select(pay_codes.c.state).where(pay_codes.c.id == found.id)).scalar_one()
        if current == "used":
            raise PayCodeUsedError("this pay code was already used; ask the customer for a new one")
        raise PayCodeExpiredError("this pay code has expired; ask the customer for a new one")
    order_id = _insert_order(
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
    answer = _pay(conn, ledger, _load(conn, order_id), found.user_id, pay_cur, now)
    return idem.complete(conn, scope, idempotency_key, answer)
