"""Shapes of pay as its service answers them (and as its idempotency records keep them: times in Unix
ns): ``Order`` (``UserOrder`` adds the merchant's name), ``Refund``, ``PayCode``, ``Settlement`` and
``Fee``. The HTTP forms live in ``api/pay.py``."""

from __future__ import annotations

from typing import TypedDict


class Order(TypedDict):
    order_id: int
    token: str
    merchant_id: int
    payer_user_id: int | None
    merchant_order_id: str
    amount: int
    currency: str
    fee: int
    fee_bps: int
    state: str
    source: str
    user_id: int | None
    pay_currency: str | None
    pay_amount: int | None
    refunded: int
    created_at_ns: int
    expires_at_ns: int
    paid_at_ns: int | None


class UserOrder(Order):
    merchant_name: str


class Refund(TypedDict):
    refund_id: int
    amount: int
    fee_part: int
    pay_part: int
    order: Order


class PayCode(TypedDict):
    code: str
    currency: str
    expires_at_ns: int
    max_amount: int | None  # what a charge may take from the wallet at most (None: no cap)


class Settlement(TypedDict):
    merchant_id: int
    currency: str
    balance: int


class Fee(TypedDict):
    merchant_id: int
    fee_bps: int
