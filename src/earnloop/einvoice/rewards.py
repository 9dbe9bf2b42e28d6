"""E-invoice cashback: receipts from partner sellers earn the merchant's rate; voids and returns
reverse it. Runs in the same transaction as the sync that found the receipts.

A receipt matches a partner when its seller tax id (統一編號) belongs to a catalog merchant; the reward
is the merchant's cashback rate on the invoice amount (campaign bonuses are not applied to e-invoices
yet), pending until the merchant's lock period has passed, idempotent on the invoice (number + date).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from earnloop.catalog import service as catalog
from earnloop.catalog.pricing import price_reward
from earnloop.ledger.service import LedgerService
from earnloop.wallet import cashback

SOURCE = "einvoice"
DAY_NS = 86_400 * 1_000_000_000


def reward_receipts(conn: Connection, ledger: LedgerService, sync_result: dict[str, Any]) -> dict[str, int]:
    """Credit new partner receipts and reverse voided/returned ones; returns what was done."""
    now = ledger.clock.now_ns()
    credited = reversed_ = 0
    for receipt in sync_result.get("new", []):
        credited += _credit(conn, ledger, receipt, now)
    for receipt in sync_result.get("reversed", []):
        if cashback.find(conn, SOURCE, receipt["reward_ref"]) is not None:
            cashback.reverse(conn, ledger, source=SOURCE, ref=receipt["reward_ref"])
            reversed_ += 1
    return {"credited": credited, "reversed": reversed_}


def _credit(conn: Connection, ledger: LedgerService, receipt: dict[str, Any], now: int) -> int:
    merchant = catalog.merchant_for_tax_id(conn, receipt["seller_tax_id"])
    if merchant is None or merchant["currency"] != receipt["currency"]:
        return 0
    pricing = price_reward(
        conn,
        ledger,
        user_id=receipt["user_id"],
        at_ns=now,
        merchant_id=merchant["merchant_id"],
        base_amount=receipt["amount"],
    )
    if pricing.base_amount <= 0:
        return 0
    cashback.credit_pending(
        conn,
        ledger,
        source=SOURCE,
        ref=receipt["reward_ref"],
        user_id=receipt["user_id"],
        currency_code=receipt["currency"],
        amount=pricing.base_amount,
        release_at_ns=now + merchant["lock_period_days"] * DAY_NS,
        funding=pricing.base_funding,
    )
    return 1
