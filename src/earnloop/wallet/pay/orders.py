"""Merchant payment orders as stored: the statements a payment runs on the driver, loading an order as a
user or its merchant may see it, checks, inserting one, and its dictionary form. The use cases are in
:mod:`earnloop.wallet.pay.service`."""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from earnloop.auth.service import Partner, get_partner
from earnloop.currencies import Currency, currency
from earnloop.db import driver
from earnloop.wallet.chart import AccountKind, AccountRef
from earnloop.wallet.errors import InvalidAmountError, NotFoundError
from earnloop.wallet.pay.errors import CurrencyMismatchError, DuplicateOrderError, NotAMerchantError
from earnloop.wallet.pay.models import merchant_pay_settings, pay_orders
from earnloop.wallet.pay.schemas import Order

BPS = 10_000
DEFAULT_FEE_BPS = 150
ORDER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
ORDER_TOKEN_BYTES = 16  # 128 bits: 22 URL-safe characters
ORDER_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NS = 1_000_000_000

# The statements of a payment (order, confirm), built once and run on the driver (ADR 0011): built
# per call, SQLAlchemy's construction and cache key cost more than SQLite's own work.
_FEE_BPS = select(merchant_pay_settings.c.fee_bps).where(
    merchant_pay_settings.c.partner_id == bindparam("partner_id")
)
ORDER = select(pay_orders).where(pay_orders.c.id == bindparam("order_id"))
ORDER_BY_TOKEN = select(pay_orders).where(pay_orders.c.token == bindparam("token"))
INSERT_ORDER = insert(pay_orders).returning(pay_orders.c.id)
MARK_PAID = (
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


# -- orders -------------------------------------------------------------------------------------------
def state_of(row: Any, now_ns: int) -> str:
    if row.state == "awaiting_user" and row.expires_at_ns <= now_ns:
        return "expired"
    return str(row.state)


def order_dict(row: Any, now_ns: int) -> Order:
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
        "state": state_of(row, now_ns),
        "source": row.source,
        "user_id": row.user_id,
        "pay_currency": row.pay_currency,
        "pay_amount": row.pay_amount,
        "refunded": row.refunded,
        "created_at_ns": row.created_at_ns,
        "expires_at_ns": row.expires_at_ns,
        "paid_at_ns": row.paid_at_ns,
    }


def load(conn: Connection, order_id: int) -> Any:
    return driver.first(conn, ORDER, {"order_id": order_id})


def load_for_user(conn: Connection, user_id: int, *, token: str | None, order_id: int | None = None) -> Any:
    """The order behind a token (or, for trusted callers, its internal id), if ``user_id`` may see it;
    else 404, the same answer as for a token that does not exist. By its token an order is seen by
    anyone holding the token while it awaits payment (unless it names another payer), and by its payer
    only once paid: a stranger learns nothing of its state."""
    row = None
    by_token = isinstance(token, str) and ORDER_TOKEN_RE.match(token) is not None
    if by_token:
        row = driver.first(conn, ORDER_BY_TOKEN, {"token": token})
    elif token is None and isinstance(order_id, int):
        row = load(conn, order_id)
    if row is None or (row.payer_user_id is not None and row.payer_user_id != user_id):
        raise NotFoundError("no such order")
    if by_token and row.state != "awaiting_user" and row.user_id != user_id:
        raise NotFoundError("no such order")
    return row


def load_merchant_order(conn: Connection, merchant_id: int, merchant_order_id: str) -> Any:
    row = conn.execute(
        select(pay_orders).where(
            pay_orders.c.merchant_id == merchant_id, pay_orders.c.merchant_order_id == merchant_order_id
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no order {merchant_order_id!r}")
    return row


def check_order_id(merchant_order_id: str) -> str:
    if not isinstance(merchant_order_id, str) or not ORDER_ID_RE.match(merchant_order_id):
        raise InvalidAmountError("order id: 1–100 of A-Z a-z 0-9 _ . : - starting with a letter or digit")
    return merchant_order_id


def order_currency(merchant: Partner, currency_code: str | None) -> Currency:
    settlement = currency(merchant.settlement_currency)
    if currency_code is not None and currency(currency_code) != settlement:
        raise CurrencyMismatchError(
            f"this merchant takes orders in {settlement.code}, not {currency_code.upper()}"
        )
    return settlement


def insert_order(
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
                INSERT_ORDER,
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


def settlement_account(merchant_id: int, cur: Currency) -> AccountRef:
    return AccountRef(AccountKind.MERCHANT_SETTLEMENT, merchant_id, cur)
