"""What a user sees of their own payments (the consumer app): the orders merchants addressed to them
that await their confirmation, and their pay codes — issued with an id the app can follow (once per
form key), and the state of one (active, used with the order it paid, or expired) with its cap for the
page that shows it.

The app shows a code on a page of its own (``GET``, after a redirect — also after a passkey
confirmation), so the code is kept sealed (``code_sealed``, :mod:`earnloop.secretbox`, ADR 0019) for
its short life: opened only for its owner while it is active, cleared when it is used, and the user's
expired ones cleared when the next is issued. Codes issued through the API are never kept.

Reads, the issue and those clean-ups only; the payments themselves are
:mod:`earnloop.wallet.pay.service`'s."""

from __future__ import annotations

from typing import Any, TypedDict

from sqlalchemy import Connection, select, update

from earnloop.auth.models import partners
from earnloop.idempotency import service as idem
from earnloop.ledger.service import LedgerService
from earnloop.secretbox import SecretBox
from earnloop.wallet.errors import NotFoundError
from earnloop.wallet.pay import orders
from earnloop.wallet.pay.codes import code_digest, issue_pay_code
from earnloop.wallet.pay.models import pay_codes, pay_orders
from earnloop.wallet.pay.schemas import UserOrder

AWAITING_MAX = 50


class PayCodeStatus(TypedDict):
    code_id: int
    currency: str
    state: str  # active, used or expired
    expires_at_ns: int
    max_amount: int | None  # the most a charge may take (None: no cap)
    code: str | None  # the code itself: only while active, and only when asked with the box
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


def issue_code(
    conn: Connection,
    ledger: LedgerService,
    box: SecretBox,
    *,
    idempotency_key: str,
    user_id: int,
    currency_code: str,
    max_amount: int,
) -> int:
    """A fresh one-time pay code capped at ``max_amount``
    (:func:`~earnloop.wallet.pay.service.issue_pay_code`), kept sealed for its owner's page; its id.
    The same form key gets the same code (a form sent twice issues one)."""
    scope = f"pay.code:u{user_id}"
    replay = idem.claim(conn, scope, idempotency_key, {"currency": currency_code, "max_amount": max_amount})
    if replay is not None:
        return int(replay["code_id"])
    issued = issue_pay_code(conn, ledger, user_id=user_id, currency_code=currency_code, max_amount=max_amount)
    t = pay_codes.c
    conn.execute(
        update(pay_codes)
        .where(t.user_id == user_id, t.code_sealed.is_not(None), t.expires_at_ns <= ledger.clock.now_ns())
        .values(code_sealed=None)
    )
    code_id = conn.execute(
        update(pay_codes)
        .where(t.code_sha256 == code_digest(issued["code"]))
        .values(code_sealed=box.seal(issued["code"]))
        .returning(t.id)
    ).scalar_one()
    return idem.complete(conn, scope, idempotency_key, {"code_id": int(code_id)})["code_id"]


def code_status(
    conn: Connection, ledger: LedgerService, *, user_id: int, code_id: int, box: SecretBox | None = None
) -> PayCodeStatus:
    """The state of one of the user's pay codes; someone else's is a 404, as if it did not exist. With
    ``box``, an active code kept for the app comes with the code itself."""
    row = conn.execute(
        select(pay_codes).where(pay_codes.c.id == code_id, pay_codes.c.user_id == user_id)
    ).first()
    if row is None:
        raise NotFoundError("no such pay code")
    order = _order_of(conn, row.order_id)
    state = row.state
    if state == "active" and row.expires_at_ns <= ledger.clock.now_ns():
        state = "expired"
    shown = None
    if box is not None and state == "active" and row.code_sealed is not None:
        shown = box.open(row.code_sealed)
    return {
        "code_id": int(row.id),
        "currency": row.currency,
        "state": state,
        "expires_at_ns": row.expires_at_ns,
        "max_amount": row.max_amount,
        "code": shown,
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
