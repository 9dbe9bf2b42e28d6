"""What the earn pages show of a reward: its cashback entries (the base and each campaign bonus, as
``wallet.cashback`` keeps them) folded into one line — the amount, where it stands (pending until its
release date, confirmed, reversed) and, once reversed, why in plain words; and the locale's numbers of
the catalog (cashback rates, campaign multipliers) formatted by Babel."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal, format_percent
from sqlalchemy import Connection

from earnloop.risk import reviews
from earnloop.web import i18n

BONUS_INFIX = reviews.BONUS_INFIX  # a campaign bonus's ref: ``<reward ref>:bonus:<campaign id>``
UNDONE = frozenset({"reversed", "clawed_back"})


def _(message: str) -> str:
    """Marks a message for the catalog; the template translates it when it shows it."""
    return message


REVIEW_REJECTED = _("It was not confirmed after a review of the activity.")
GAME_REVERSED = _("The game's provider reversed it (a refund or a chargeback).")
ORDER_DECLINED = _("The store declined the order.")
ORDER_REVERSED = _("The order was cancelled or returned.")
INVOICE_VOIDED = _("The invoice was voided.")
INVOICE_RETURNED = _("The purchase was returned.")


@dataclass(frozen=True, slots=True)
class Reward:
    """One reward as the user sees it: base + bonuses, its status and (reversed) the reason."""

    ref: str
    currency: str
    amount: int
    bonus: int
    status: str  # pending | confirmed | reversed
    release_at_ns: int
    taken_back: bool = False  # reversed after it was confirmed (a clawback)
    held: bool = False  # pending past its release date: a risk review holds it
    reason: str | None = None


def fold(entries: Iterable[dict[str, Any]]) -> dict[str, Reward]:
    """The user's cashback entries (``cashback.entries_of_user``) by reward reference, each bonus
    folded into the reward it was paid with."""
    bases: dict[str, dict[str, Any]] = {}
    bonuses: dict[str, int] = {}
    for entry in entries:
        base_ref, infix, _campaign = entry["ref"].rpartition(BONUS_INFIX)
        if infix:
            bonuses[base_ref] = bonuses.get(base_ref, 0) + int(entry["amount"])
        else:
            bases[entry["ref"]] = entry
    folded = {}
    for ref, base in bases.items():
        bonus = bonuses.get(ref, 0)
        folded[ref] = Reward(
            ref=ref,
            currency=base["currency"],
            amount=int(base["amount"]) + bonus,
            bonus=bonus,
            status="reversed" if base["status"] in UNDONE else base["status"],
            release_at_ns=int(base["release_at_ns"]),
            taken_back=base["status"] == "clawed_back",
        )
    return folded


def explained(conn: Connection, source: str, reward: Reward, otherwise: str, now_ns: int) -> Reward:
    """The reward with what its status alone does not say: reversed, why — a reviewer's rejection when
    there was one, else ``otherwise`` (what the source says: the provider, the store, the invoice);
    pending past its release date, whether an open review holds it."""
    overdue = reward.status == "pending" and reward.release_at_ns <= now_ns
    if reward.status != "reversed" and not overdue:
        return reward
    review = reviews.review_of(conn, source=source, reward_ref=reward.ref)
    status = None if review is None else review["status"]
    if overdue:
        return replace(reward, held=status == "open")
    return replace(reward, reason=REVIEW_REJECTED if status == "rejected" else otherwise)


def percent(rate_bps: int, lang: str) -> str:
    """A cashback rate (basis points) as the locale writes a percentage, e.g. ``5%`` / ``2.5%``."""
    return format_percent(Decimal(rate_bps).scaleb(-4), format="#,##0.##%", locale=i18n.babel_locale(lang))


def times(multiplier_bps: int, lang: str) -> str:
    """A campaign multiplier (basis points) as the locale writes the number, e.g. ``2`` / ``1.5``."""
    return format_decimal(
        Decimal(multiplier_bps).scaleb(-4), format="#,##0.##", locale=i18n.babel_locale(lang)
    )
