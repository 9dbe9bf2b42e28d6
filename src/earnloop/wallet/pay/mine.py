"""What a user sees of their own payments (the consumer app): the orders merchants addressed to them
that await their confirmation, and their pay codes — issued with an id the app can follow, and the
state of one (active, used with the order it paid, or expired) for the page that shows it.

Reads and one insert only; the payments themselves are :mod:`earnloop.wallet.pay.service`'s."""

from __future__ import annotations

from typing import Any, TypedDict

from sqlalchemy import Connection, select

from earnloop.auth.models import partners
from earnloop.ledger.service import LedgerService
from earnloop.wallet.errors import NotFoundError
from earnloop.wallet.pay import orders
from earnloop.wallet.pay.models import pay_codes, pay_orders
from earnloop.wallet.pay.schemas import UserOrder
from earnloop.wallet.pay.service import _code_digest, issue_pay_code

AWAITING_MAX = 50


class ShownPayCode(TypedDict):
    code_id: int
    code: str
    currency: str
    expires_at_ns: int


class PayCodeStatus(TypedDict):
    code_id: int
    currency: str
    state: str  # active, used or expired
    expires_at_ns: int
    used_at_ns: int | None
    merchant_name: str | None  # once used: who charged it, how much, in what currency
    amount: int | None
    order_currency: str | None


def awaiting_orders(conn: Connection, ledger: LedgerService, user_id: int) -> list[UserOrder]:
    """Unexpired orders that name ``user_id`` as their payer and wait for them, newest first."""
    now = ledger.clock.now_ns()
    rows = conn.execute(
        select(pay_orders, partners.c.name.label("merchant_name"))
        .join(partners, partners.c.id == pay_orders.c.merchant_id)
        .where(
            pay_orders.c.payer_user_id == user_id,
            pay_orders.c.state == "awaiting_user",
            pay_orders.c.expires_at_ns > now,
        )
        .order_by(pay_orders.c.created_at_ns.desc(), pay_orders.c.id.desc())
        .limit(AWAITING_MAX)
    )
    return [{**orders.order_dict(r, now), "merchant_name": r.merchant_name} for r in rows]


def issue_code(conn: Connection, ledger: LedgerService, *, user_id: int, currency_code: str) -> ShownPayCode:
    """A fresh one-time pay code (:func:`~earnloop.wallet.pay.service.issue_pay_code`) and the id under
    which the user's app follows its state (the code itself is shown once and never stored)."""
    issued = issue_pay_code(conn, ledger, user_id=user_id, currency_code=currency_code)
    code_id = conn.execute(
        select(pay_codes.c.id).where(pay_codes.c.code_sha256 == _code_digest(issued["code"]))
    ).scalar_one()
    return {"code_id": int(code_id), **issued}


def code_status(conn: Connection, ledger: LedgerService, *, user_id: int, code_id: int) -> PayCodeStatus:
    """The state of one of the user's pay codes; someone else's is a 404, as if it did not exist."""
    row = conn.execute(
        select(pay_codes).where(pay_codes.c.id == code_id, pay_codes.c.user_id == user_id)
    ).first()
    if row is None:
        raise NotFoundError("no such pay code")
    order = _order_of(conn, row.order_id)
    state = row.state
    if state == "active" and row.expires_at_ns <= ledger.clock.now_ns():
        state = "expired"
    return {
        "code_id": int(row.id),
        "currency": row.currency,
        "state": state,
        "expires_at_ns": row.expires_at_ns,
        "used_at_ns": row.used_at_ns,
        "merchant_name": None if order is None else order.merchant_name,
        "amount": None if order is None else order.amount,
        "order_currency": None if order is None else order.currency,
    }


def _order_of(conn: Connection, order_id: int | None) -> Any:
    if order_id is None:
        return None
    return conn.execute(
        select(pay_orders.c.amount, pay_orders.c.currency, partners.c.name.label("merchant_name"))
        .join(partners, partners.c.id == pay_orders.c.merchant_id)
        .where(pay_orders.c.id == order_id)
    ).first()
