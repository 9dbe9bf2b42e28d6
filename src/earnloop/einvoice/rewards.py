"""E-invoice cashback: receipts from partner sellers earn the merchant's rate plus every applicable
campaign bonus; voids and returns reverse both. Runs in the same transaction as the sync that found the
receipts.

A receipt matches a partner when its seller tax id (統一編號) belongs to a catalog merchant. The reward is
priced like the game path (:func:`earnloop.catalog.pricing.price_reward`): the base part (the merchant's
cashback rate on the invoice amount, paid from the partner's funding) and one bonus part per applicable
campaign (2x zones, fixed bonuses, per-user caps, budgets), each a pending cashback entry until the
merchant's lock period has passed. References: ``<invoice number>:<yyyymmdd>`` for the base part and
``<ref>:bonus:<campaign id>`` for each bonus (also the campaign use counted by ``record_use``).

Bonuses are paid by :func:`earnloop.earn.bonuses.pay_bonus` (re-priced when a concurrent reward used
the budget since pricing; skipped when the per-user cap is used up): neither fails the sync nor the base
reward. Every rewarded receipt is screened by the risk engine first.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import Connection

from earnloop.catalog import service as catalog
from earnloop.catalog.errors import CatalogError
from earnloop.catalog.service import price_reward
from earnloop.earn.bonuses import RewardTarget, paid_bonus_refs, pay_bonus
from earnloop.ledger.service import LedgerService
from earnloop.risk import reviews
from earnloop.risk.engine import RiskEngine
from earnloop.risk.events import RiskEvent
from earnloop.risk.screening import observe, screen
from earnloop.wallet.cashback import service as cashback

SOURCE = "einvoice"
DENIED = -1  # _credit's answer for a receipt the risk engine refused
DAY_NS = 86_400 * 1_000_000_000

log = structlog.get_logger("earnloop.einvoice")


def reward_receipts(
    conn: Connection, ledger: LedgerService, sync_result: dict[str, Any], *, risk: RiskEngine
) -> dict[str, int]:
    """Credit new partner receipts (base + bonuses) and reverse voided/returned ones; returns counts:
    receipts ``credited`` and ``reversed``, bonus entries ``bonuses`` paid and ``bonuses_reversed``,
    and ``denied`` (receipts the risk engine refused: nothing paid)."""
    now = ledger.clock.now_ns()
    done = {"credited": 0, "reversed": 0, "bonuses": 0, "bonuses_reversed": 0, "denied": 0}
    for receipt in sync_result.get("new", []):
        paid = _credit(conn, ledger, receipt, now, risk)
        if paid == DENIED:
            done["denied"] += 1
            continue
        if paid is not None:
            done["credited"] += 1
            done["bonuses"] += paid
    for receipt in sync_result.get("reversed", []):
        ref = receipt["reward_ref"]
        if cashback.find(conn, SOURCE, ref) is None:
            continue
        done["bonuses_reversed"] += _reverse_bonuses(conn, ledger, ref)
        cashback.reverse(conn, ledger, source=SOURCE, ref=ref)
        done["reversed"] += 1
        refund = RiskEvent("refund", f"{SOURCE}:refund:{ref}", now, keys={"user": str(receipt["user_id"])})
        observe(risk, refund)
    return done


def _credit(
    conn: Connection, ledger: LedgerService, receipt: dict[str, Any], now: int, risk: RiskEngine
) -> int | None:
    """Credit the base part and the bonuses; ``None`` when the seller is no partner (or earns nothing),
    :data:`DENIED` when the risk engine refused it, else the number of bonuses paid."""
    merchant = catalog.merchant_for_tax_id(conn, receipt["seller_tax_id"])
    if merchant is None or merchant["currency"] != receipt["currency"] or receipt["amount"] <= 0:
        return None
    earn = RewardTarget(
        source=SOURCE,
        ref=receipt["reward_ref"],
        user_id=receipt["user_id"],
        currency=receipt["currency"],
        release_at_ns=now + merchant["lock_period_days"] * DAY_NS,
    )
    try:
        pricing = price_reward(
            conn,
            ledger,
            user_id=earn.user_id,
            at_ns=now,
            merchant_id=merchant["merchant_id"],
            base_amount=receipt["amount"],
        )
    except CatalogError as exc:  # e.g. no cashback rate for the merchant's category: it earns nothing
        log.warning("einvoice_receipt_not_priced", merchant=merchant["key"], reason=str(exc))
        return None
    if pricing.base_amount <= 0:
        return None
    event = RiskEvent(
        kind="einvoice_receipt",
        ref=f"{SOURCE}:{earn.ref}",
        at_ns=now,
        amount=receipt["amount"],
        currency=receipt["currency"],
        keys={"user": str(earn.user_id), "partner": f"merchant:{merchant['merchant_id']}"},
    )
    decision = screen(conn, risk, event)
    if decision.outcome == "deny":
        return DENIED
    if decision.outcome == "review":
        reviews.hold(
            conn,
            event_ref=event.ref,
            source=SOURCE,
            reward_ref=earn.ref,
            user_id=earn.user_id,
            reasons=decision.reasons,
            now_ns=now,
        )
    cashback.credit_pending(
        conn,
        ledger,
        source=SOURCE,
        ref=earn.ref,
        user_id=earn.user_id,
        currency_code=pricing.currency,
        amount=pricing.base_amount,
        release_at_ns=earn.release_at_ns,
        funding=pricing.base_funding,
    )
    return sum(pay_bonus(conn, ledger, earn, part) > 0 for part in pricing.bonuses)


def _reverse_bonuses(conn: Connection, ledger: LedgerService, ref: str) -> int:
    """Reverse every bonus paid on a receipt: void while pending, claw back once confirmed. The uses
    stay counted against the user's caps."""
    refs = paid_bonus_refs(conn, SOURCE, ref)
    for bonus in refs:
        cashback.reverse(conn, ledger, source=SOURCE, ref=bonus)
    return len(refs)
