"""Screening a payment before its money moves (issue 15, ADR 0028): order confirmation and pay-code
charges screen one ``payment`` event — payer, payee (the merchant), the payer's device and network when
the request is the payer's own, amount and currency — and act on the decision: ``allow`` pays,
``deny`` refuses (403 ``risk-denied``), ``review`` refuses too (403 ``risk-review``: a till cannot wait
for a person) and opens a review in the risk queue, so the risk team sees it and labels it.

Owns :func:`screen_payment`.
"""

from __future__ import annotations

from sqlalchemy import Connection

from earnloop.risk import reviews
from earnloop.risk.engine import RiskEngine
from earnloop.risk.events import EntityKey, RiskEvent
from earnloop.risk.screening import screen
from earnloop.wallet.screening import Presence, event_ref, refuse_unless_allowed

REVIEW_SOURCE = "payment"


def screen_payment(
    conn: Connection,
    risk: RiskEngine,
    *,
    scope: str,
    idempotency_key: str,
    user_id: int,
    merchant_id: int,
    amount: int,
    currency_code: str,
    presence: Presence,
    now_ns: int,
) -> None:
    """Screen the payment; return on ``allow``, else record the refusal and raise it (see module)."""
    ref = event_ref("payment", scope, idempotency_key)
    keys: dict[EntityKey, str] = {
        **presence.keys(),
        "user": str(user_id),
        "payee": f"merchant:{merchant_id}",
        "partner": str(merchant_id),
    }
    event = RiskEvent("payment", ref, now_ns, amount=amount, currency=currency_code, keys=keys)
    decision = screen(conn, risk, event)
    if decision.outcome == "review":
        reviews.hold(
            conn,
            event_ref=ref,
            source=REVIEW_SOURCE,
            reward_ref=ref,
            user_id=user_id,
            reasons=decision.reasons,
            now_ns=now_ns,
        )
    refuse_unless_allowed(conn, decision, scope=scope, idempotency_key=idempotency_key, what="payment")
