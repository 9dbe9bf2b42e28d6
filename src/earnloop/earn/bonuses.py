"""Paying the campaign bonuses of a priced reward, and finding them again to reverse them: the earn
paths' money movement for campaign bonuses (the catalog only prices them and counts their uses).

Every earn path (game milestones, shopping conversions, e-invoice receipts) prices a reward with
:func:`~earnloop.catalog.service.price_reward` and credits its base part itself; the bonus parts go
through :func:`pay_bonus`. A bonus of the reward ``ref`` is the cashback entry *and* the campaign use
(``count_use``, guarded by the per-user cap) named ``<ref>:bonus:<campaign id>``.

Each bonus is recorded and credited inside a savepoint. When the ledger refuses it because a
concurrent reward used the campaign budget since pricing (``exceeds_credits`` → ``InsufficientFundsError``),
the savepoint is rolled back and the bonus is priced again against the budget left *now*:
``pay_partial`` pays what is left, ``all_or_nothing`` pays nothing — at most :data:`BONUS_ATTEMPTS`
times. A per-user cap reached meanwhile pays nothing. The base reward is never affected, and the
budget account (``debits_must_not_exceed_credits``) can never be overdrawn whatever happens here.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy import Connection

from earnloop.catalog import service as catalog
from earnloop.catalog.errors import CapReachedError
from earnloop.catalog.service import BonusPart
from earnloop.db import driver
from earnloop.ledger.service import LedgerService
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.errors import InsufficientFundsError

BONUS_ATTEMPTS = 3

log = structlog.get_logger("earnloop.catalog")  # the name its events carried before the move


@dataclass(frozen=True)
class RewardTarget:
    """Who earns a reward, where it is recorded and until when it is locked."""

    source: str
    ref: str
    user_id: int
    currency: str
    release_at_ns: int


def bonus_prefix(ref: str) -> str:
    """What every campaign bonus reference of the reward ``ref`` starts with."""
    return f"{ref}:bonus:"


def bonus_ref(ref: str, campaign_id: int) -> str:
    return f"{bonus_prefix(ref)}{campaign_id}"


def pay_bonus(conn: Connection, ledger: LedgerService, target: RewardTarget, part: BonusPart) -> int:
    """Count the campaign use and credit the bonus pending, all or nothing (see the module docstring).
    Returns the amount paid: 0 when the budget or the user's cap is used up. ``part`` was priced in
    this transaction (its ``cap`` is the campaign's) for the target's user, who exists."""
    ref = bonus_ref(target.ref, part.campaign_id)
    for _ in range(BONUS_ATTEMPTS):
        if part.amount <= 0:
            return 0
        try:
            with driver.savepoint(conn):
                catalog.count_use(
                    conn,
                    subject="campaign",
                    subject_id=part.campaign_id,
                    user_id=target.user_id,
                    ref=ref,
                    amount=part.amount,
                    cap=part.cap,
                )
                cashback.credit_pending(
                    conn,
                    ledger,
                    source=target.source,
                    ref=ref,
                    user_id=target.user_id,
                    currency_code=target.currency,
                    amount=part.amount,
                    release_at_ns=target.release_at_ns,
                    funding=part.funding,
                )
        except CapReachedError:  # a concurrent reward of this user took the last use
            return 0
        except InsufficientFundsError:  # the budget was used since pricing: what is left now?
            part = catalog.reprice_bonus(conn, ledger, part)
            log.info("bonus_repriced", ref=ref, amount=part.amount, status=part.status)
            continue
        return part.amount
    return 0


def paid_bonus_refs(conn: Connection, source: str, ref: str) -> list[str]:
    """The references of every bonus paid with the reward ``ref`` (exact names only: another reward's
    reference may itself start with ``<ref>:bonus:``)."""
    uses = catalog.uses_with_ref_prefix(conn, "campaign", bonus_prefix(ref))
    return [
        use["ref"]
        for use in uses
        if use["ref"] == bonus_ref(ref, use["subject_id"]) and cashback.find(conn, source, use["ref"])
    ]
