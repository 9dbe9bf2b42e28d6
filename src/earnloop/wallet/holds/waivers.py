"""Deposit waivers: a hold request for a user whose credit is good enough needs no deposit.

``wallet`` sits below ``credit`` and may not ask it, so the caller that can (the API, the app) passes a
:class:`DepositWaiver` into :func:`earnloop.wallet.holds.service.request_hold`: a callable that, given
the policy's ``min_credit_score``, answers a :class:`CreditDecision`. The decision is evaluated at use
time, inside the request's transaction, and stored on the hold (``credit_decision``) whatever it says:
a waived hold (state ``waived``) never holds money and cannot be captured; otherwise the request waits
for the user's approval as before. Without a waiver nothing changes (operators' holds, mandates).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, select, update

from earnloop.wallet.holds.models import deposit_holds as holds


@dataclass(frozen=True, slots=True)
class CreditDecision:
    """What credit decided for one hold request: ``waived`` or not (or a deposit reduced by
    ``reduced_pct``), on which ``rule``
    (``min_credit_score`` | ``deposit_free`` | ``below_threshold`` | ``no_score``), from which score and
    model, with the reasons (plain-language sentences) and a one-line explanation."""

    waived: bool
    rule: str
    explanation: str
    score: int | None = None
    model_version: int | None = None
    band: str | None = None
    reasons: tuple[str, ...] = field(default_factory=tuple)
    reduced_pct: int = 0  # not waived: the deposit is reduced by this share (0–99)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "reasons": list(self.reasons)}, separators=(",", ":"))


class DepositWaiver(Protocol):
    """Decides, at use time, whether ``user_id`` needs a deposit under a policy's ``min_credit_score``."""

    def __call__(
        self, conn: Connection, *, user_id: int, min_credit_score: int | None, now_ns: int
    ) -> CreditDecision: ...


def decision_of(text: str | None) -> dict[str, Any] | None:
    """The stored decision as a dict (``None`` when no decision was asked)."""
    return None if text is None else dict(json.loads(text))


def apply(conn: Connection, hold_id: str, decision: CreditDecision, now_ns: int) -> None:
    """Record the decision on a ``requested`` hold; a waiver makes it ``waived`` (nothing is held)."""
    values: dict[str, Any] = {"credit_decision": decision.to_json(), "updated_at_ns": now_ns}
    if decision.waived:
        values |= {"state": "waived", "reason": decision.explanation[:500]}
    elif 0 < decision.reduced_pct < 100:  # integer minor units, rounded down, never below 1
        amount = int(conn.execute(select(holds.c.amount).where(holds.c.hold_id == hold_id)).scalar_one())
        values["amount"] = max(1, amount * (100 - decision.reduced_pct) // 100)
    requested = (holds.c.hold_id == hold_id, holds.c.state == "requested")
    conn.execute(update(holds).where(*requested).values(**values))
