"""Privileges: what a score band unlocks (``credit_privileges``: deposit-free or reduced deposits, a
withdrawal limit, faster cashback release, a credit line), evaluated at use time from the user's
current score and explained in plain words. :func:`deposit_waiver` is the wallet's
:class:`~earnloop.wallet.holds.waivers.DepositWaiver`: the API and the app pass it to a hold request.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from earnloop.credit.errors import CreditError
from earnloop.credit.models import credit_privileges
from earnloop.credit.registry import approved_version
from earnloop.credit.scoring import StoredScore, latest_score, score_user
from earnloop.wallet.holds.waivers import CreditDecision

FRESH_NS = 86_400 * 1_000_000_000  # a stored score younger than a day is the current one


@dataclass(frozen=True, slots=True)
class Privilege:
    band_min: int
    band: str
    currency: str
    deposit_free: bool
    deposit_reduced_pct: int
    withdrawal_limit: int | None
    cashback_release_days: int | None
    credit_line_limit: int

    def unlocked(self) -> list[str]:
        """What this band unlocks, in plain words (English source strings; the app translates)."""
        found = []
        if self.deposit_free:
            found.append("deposit-free rentals")
        elif self.deposit_reduced_pct:
            found.append("reduced deposits")
        if self.cashback_release_days is not None:
            found.append("faster cashback release")
        if self.credit_line_limit > 0:
            found.append("a credit line")
        if self.withdrawal_limit is not None:
            found.append("a higher withdrawal limit")
        return found


def _privilege(row: Any) -> Privilege:
    return Privilege(
        band_min=int(row.band_min),
        band=row.band,
        currency=row.currency,
        deposit_free=bool(row.deposit_free),
        deposit_reduced_pct=int(row.deposit_reduced_pct),
        withdrawal_limit=None if row.withdrawal_limit is None else int(row.withdrawal_limit),
        cashback_release_days=None if row.cashback_release_days is None else int(row.cashback_release_days),
        credit_line_limit=int(row.credit_line_limit),
    )


# The built-in policy, in force while ``credit_privileges`` is empty (amounts in TWD minor units).
DEFAULT_BANDS = (
    Privilege(350, "poor", "TWD", False, 0, 500_000, None, 0),
    Privilege(550, "fair", "TWD", False, 0, 2_000_000, None, 0),
    Privilege(650, "good", "TWD", False, 50, 5_000_000, 7, 300_000),
    Privilege(750, "very_good", "TWD", True, 100, 10_000_000, 3, 1_000_000),
    Privilege(850, "excellent", "TWD", True, 100, 20_000_000, 1, 3_000_000),
)


def bands(conn: Connection) -> list[Privilege]:
    """The policy: the table's bands, or the built-in ones while it is empty (lowest first)."""
    rows = conn.execute(select(credit_privileges).order_by(credit_privileges.c.band_min)).all()
    return [_privilege(r) for r in rows] if rows else list(DEFAULT_BANDS)


def privilege_for(conn: Connection, score: int) -> Privilege | None:
    """The band ``score`` falls in (the highest ``band_min`` ≤ score), or ``None`` below every band;
    evaluated at use time."""
    below = [band for band in bands(conn) if band.band_min <= score]
    return below[-1] if below else None


def set_band(conn: Connection, band: Privilege, *, now_ns: int) -> None:
    """Create or replace one band of the policy (operators)."""
    if not 350 <= band.band_min <= 950 or not 0 <= band.deposit_reduced_pct <= 100:
        raise CreditError("band_min is 350–950 and deposit_reduced_pct 0–100")
    values = {**asdict(band), "updated_at_ns": now_ns}
    conn.execute(delete(credit_privileges).where(credit_privileges.c.band_min == band.band_min))
    conn.execute(insert(credit_privileges).values(**values))


def current_score(conn: Connection, user_id: int, now_ns: int) -> StoredScore | None:
    """The user's score at use time: the stored one when fresh and from the approved champion, else
    computed now (and stored); ``None`` when no model is approved."""
    version = approved_version(conn)
    if version is None:
        return None
    stored = latest_score(conn, user_id)
    if stored is not None and stored.model_version == version and now_ns - stored.computed_at_ns < FRESH_NS:
        return stored
    return score_user(conn, user_id, now_ns=now_ns)


def deposit_waiver(
    conn: Connection, *, user_id: int, min_credit_score: int | None, now_ns: int
) -> CreditDecision:
    """Whether ``user_id`` needs a deposit: waived when the current score reaches the policy's
    ``min_credit_score`` or falls in a deposit-free band."""
    scored = current_score(conn, user_id, now_ns)
    if scored is None:
        return CreditDecision(False, "no_score", "no credit score is available yet")
    privilege = privilege_for(conn, scored.score)
    reasons = tuple(r.text for r in scored.top_reasons())
    band = None if privilege is None else privilege.band
    common: dict[str, Any] = {"score": scored.score, "model_version": scored.model_version, "band": band}
    if min_credit_score is not None and scored.score >= min_credit_score:
        explanation = f"credit score {scored.score} reaches this deposit's threshold {min_credit_score}"
        return CreditDecision(True, "min_credit_score", explanation, reasons=reasons, **common)
    if privilege is not None and privilege.deposit_free:
        explanation = f"credit score {scored.score} is in the {band} band: deposit-free"
        return CreditDecision(True, "deposit_free", explanation, reasons=reasons, **common)
    needed = "" if min_credit_score is None else f"; {min_credit_score} waives it"
    reduced = 0 if privilege is None else min(99, privilege.deposit_reduced_pct)
    cut = f", reduced by {reduced}% in the {band} band" if reduced else ""
    explanation = f"credit score {scored.score} needs a deposit{cut}{needed}"
    common["reduced_pct"] = reduced
    return CreditDecision(False, "below_threshold", explanation, reasons=reasons, **common)
