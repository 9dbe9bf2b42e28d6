"""The game earn path of a verified postback: earn a milestone reward, or reverse an earlier one.

**Binding.** A postback binds to its recorded click, and so to the click's game, only when the game
is tracked by the provider that sent it (``provider_mismatch`` otherwise) and, when the provider names
the app (AppsFlyer's ``app_id``), the app is the game's: its App Store id, with or without AppsFlyer's
``id`` prefix, or its Play package (``app_mismatch``).

**Earning.** Bind the postback to its recorded click, map its event to the click's game milestone
(order, duplicates, attribution window), price the reward from the catalog (the provider's reported
amount is never used for money), record a risk decision, count the milestone use against its limit and
credit the base reward as pending cashback, released after the game's ``lock_period_days``.

**Campaign bonuses** are paid by :func:`earnloop.earn.bonuses.pay_bonus` (each in a savepoint,
re-priced when a concurrent reward used the budget since pricing). The base reward is always paid, so
the provider always gets its success reply; caps count exactly the bonuses paid, with the amount paid.

**Reversals.** A verified reversal names the conversion it reverses (``reverses_transaction_id``):
ayeT-Studios sends chargebacks as ``r-<original id>`` with ``is_chargeback=1``; our own scheme sends
``reversal: true`` with ``reverses_transaction_id`` and a transaction id of its own. Tapjoy and
AppsFlyer publish no reversal callback: a negative amount from them is a reversal that names nothing
and is rejected (``reversal_unreferenced``), as is one naming no accepted conversion of that provider
(``unknown_transaction``) or another click (``reversal_mismatch``). A reversal cancels the base reward
and every campaign bonus paid with it through ``cashback.reverse``: voided while pending (the budget
gets the bonus back at once), clawed back once confirmed (what the user no longer has becomes debt,
which freezes withdrawals). A second reversal of the same conversion moves no money (outcome
``duplicate``). A message in which the provider itself rejects an install or event (AppsFlyer's
``is_rejected`` / ``reject_reason``) pays nothing and reverses, the same way, every conversion of that
provider already paid for the same click and milestone (:func:`undo_rejected`).

**The milestone and campaign uses stay counted after a reversal**: a charged-back milestone must not
become earnable again by replaying it (under a new transaction id), and the user's campaign cap keeps
counting the bonus that was granted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select

from earnloop.catalog import service as catalog
from earnloop.catalog.errors import CapReachedError
from earnloop.catalog.service import price_milestone
from earnloop.db import driver
from earnloop.earn.bonuses import RewardTarget, paid_bonus_refs, pay_bonus
from earnloop.ledger.service import LedgerService
from earnloop.risk import reviews
from earnloop.risk.engine import RiskEngine
from earnloop.risk.events import AttrValue, EntityKey, RiskEvent
from earnloop.risk.keys import address_keys, click_attrs, is_emulator
from earnloop.risk.screening import ScreenResult, observe, screen
from earnloop.tracking.models import tracking_clicks, tracking_conversions
from earnloop.tracking.verifiers import VerifiedPostback
from earnloop.wallet.cashback import service as cashback

DAY_NS = 86_400 * 10**9
SOURCE = "game"
_UNDONE = frozenset({"reversed", "clawed_back"})


class Rejected(Exception):  # noqa: N818 -- control flow: the postback is refused with a reason code
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Conversion:
    """What an accepted postback did: the row stored with its transaction id, and whether it only
    repeated an earlier effect (a second reversal of the same conversion)."""

    click_id: str
    user_id: int
    milestone_id: int
    currency: str
    amount: int
    duplicate: bool = False
    denied: ScreenResult | None = None  # the risk engine refused it: nothing was paid

    def row(self) -> dict[str, Any]:
        return {
            "click_id": self.click_id,
            "user_id": self.user_id,
            "milestone_id": self.milestone_id,
            "currency": self.currency,
            "amount": self.amount,
        }


def reward_ref(provider: str, transaction_id: str) -> str:
    """The cashback / usage reference of a conversion (hashed when the provider's id is very long)."""
    ref = f"{provider}:{transaction_id}"
    if len(ref) <= 150:
        return ref
    return f"{provider}:sha256:{hashlib.sha256(transaction_id.encode()).hexdigest()}"


def settle(
    conn: Connection,
    ledger: LedgerService,
    provider: str,
    claim: VerifiedPostback,
    now_ns: int,
    risk: RiskEngine,
) -> Conversion:
    """Earn or reverse, as the postback claims; :class:`Rejected` when it cannot."""
    if claim.is_reversal:
        return reverse(conn, ledger, provider, claim, risk)
    return earn(conn, ledger, provider, claim, now_ns, risk)


def click_keys(user_id: int, client_ip: str, device_id: str | None) -> dict[EntityKey, str]:
    """The entity keys a click gives its events: the user, the device, the address and its network."""
    keys: dict[EntityKey, str] = {"user": str(user_id), **address_keys(client_ip)}
    if device_id:
        keys["device"] = device_id
    return keys


def _milestone_event(
    click: Any, game: Any, milestone: Any, provider: str, ref: str, amount: int, currency: str, now_ns: int
) -> RiskEvent:
    keys = click_keys(int(click.user_id), click.client_ip, click.device_id)
    return RiskEvent(
        kind="milestone",
        ref=f"{SOURCE}:{ref}",
        at_ns=now_ns,
        amount=amount,
        currency=currency,
        keys={**keys, "offer": f"game:{game.id}", "partner": provider},
        attrs={
            **click_attrs(int(click.created_at_ns), str(click.user_agent), now_ns),
            "milestone_position": int(milestone.position),
        },
    )


def observe_click(
    risk: RiskEngine,
    click_id: str,
    game_id: int,
    user_id: int,
    user_agent: str,
    client_ip: str,
    device_id: str | None,
    now_ns: int,
) -> None:
    """Feed a recorded click into the risk engine's velocity windows."""
    keys = {**click_keys(user_id, client_ip, device_id), "offer": f"game:{game_id}"}
    attrs: dict[str, AttrValue] = {"emulator": is_emulator(user_agent), "user_agent": user_agent[:200]}
    observe(risk, RiskEvent("click", f"click:{click_id}", now_ns, keys=keys, attrs=attrs))


# -- earning ------------------------------------------------------------------------------------------
_CLICK = select(tracking_clicks).where(tracking_clicks.c.click_id == bindparam("click_id"))


def _milestone(conn: Connection, game: Any, click: Any, event_key: str, now_ns: int) -> Any:
    """The milestone the event proves (with ``used``: how often the user earned it), if the user may
    earn it now."""
    ordered = catalog.milestones_with_uses(conn, game.id, int(click.user_id))
    milestone = next((m for m in ordered if m.key == event_key), None)
    if milestone is None:
        raise Rejected("unknown_milestone", f"game {game.key!r} has no milestone {event_key!r}")
    if milestone.used >= milestone.per_user_limit:
        raise Rejected("duplicate_milestone", f"milestone {milestone.key!r} was already rewarded")
    missing = [m.key for m in ordered if m.position < milestone.position and m.used == 0]
    if missing:
        raise Rejected("milestone_out_of_order", f"earlier milestones not rewarded yet: {', '.join(missing)}")
    if milestone.within_days is not None and now_ns - click.created_at_ns > milestone.within_days * DAY_NS:
        raise Rejected("attribution_expired", f"more than {milestone.within_days} day(s) after the click")
    return milestone


def _app_matches(game: Any, app_id: str) -> bool:
    """``app_id`` is the game's app: its App Store id (``id123``, as AppsFlyer writes it, or ``123``)
    or its Play package."""
    store_id = game.app_store_id
    return bool(
        (store_id and app_id in (store_id, f"id{store_id}"))
        or (game.play_package and app_id == game.play_package)
    )


def bind(conn: Connection, provider: str, claim: VerifiedPostback) -> tuple[Any, Any]:
    """The recorded click and its game, if this provider may report events of that game."""
    click = driver.first(conn, _CLICK, {"click_id": claim.click_id})
    if click is None:
        raise Rejected("unknown_click", "no click with this id")
    game = catalog.game_row(conn, click.game_id)
    if game.tracking_provider != provider:
        raise Rejected(
            "provider_mismatch", f"game {game.key!r} is tracked by {game.tracking_provider}, not {provider}"
        )
    if claim.app_id is not None and not _app_matches(game, claim.app_id):
        raise Rejected("app_mismatch", f"app {claim.app_id!r} is not the app of game {game.key!r}")
    return click, game


def _claimed_milestone(
    conn: Connection,
    risk: RiskEngine,
    provider: str,
    claim: VerifiedPostback,
    click: Any,
    game: Any,
    now_ns: int,
) -> Any:
    """The milestone the postback claims. A claim of one the user was already paid for (a replay under
    a new transaction id) is refused, and still counted in the user's milestone velocity: a burst of
    replays shows on the events that follow it."""
    try:
        return _milestone(conn, game, click, claim.event_key, now_ns)
    except Rejected as refused:
        if refused.code == "duplicate_milestone":
            keys = click_keys(int(click.user_id), click.client_ip, click.device_id)
            ref = f"{SOURCE}:{reward_ref(provider, claim.transaction_id)}"
            observe(risk, RiskEvent("milestone", ref, now_ns, keys={**keys, "offer": f"game:{game.id}"}))
        raise


def earn(
    conn: Connection,
    ledger: LedgerService,
    provider: str,
    claim: VerifiedPostback,
    now_ns: int,
    risk: RiskEngine,
) -> Conversion:
    click, game = bind(conn, provider, claim)
    user_id = int(click.user_id)
    if game.status != "active":
        raise Rejected("game_inactive", f"game {game.key!r} is {game.status}")
    milestone = _claimed_milestone(conn, risk, provider, claim, click, game, now_ns)
    pricing = price_milestone(
        conn, ledger, user_id=user_id, at_ns=now_ns, game=game, milestone=milestone, used=milestone.used
    )
    ref = reward_ref(provider, claim.transaction_id)
    event = _milestone_event(
        click, game, milestone, provider, ref, pricing.base_amount, pricing.currency, now_ns
    )
    decision = screen(conn, risk, event)
    if decision.outcome == "deny":  # nothing is paid nor counted; the decision stays recorded
        return Conversion(click.click_id, user_id, milestone.id, pricing.currency, 0, denied=decision)
    try:
        catalog.count_use(
            conn,
            subject="milestone",
            subject_id=milestone.id,
            user_id=user_id,
            ref=ref,
            amount=pricing.base_amount,
            cap=milestone.per_user_limit,
        )
    except CapReachedError:  # a concurrent postback for the same milestone won
        raise Rejected("duplicate_milestone", f"milestone {milestone.key!r} was already rewarded") from None
    release_at_ns = now_ns + int(game.lock_period_days) * DAY_NS
    cashback.credit_pending(
        conn,
        ledger,
        source=SOURCE,
        ref=ref,
        user_id=user_id,
        currency_code=pricing.currency,
        amount=pricing.base_amount,
        release_at_ns=release_at_ns,
        funding=pricing.base_funding,
    )
    target = RewardTarget(SOURCE, ref, user_id, pricing.currency, release_at_ns)
    bonuses = sum(pay_bonus(conn, ledger, target, part) for part in pricing.bonuses)
    if decision.outcome == "review":  # credited pending, held past its release date until reviewed
        reviews.hold(
            conn,
            event_ref=event.ref,
            source=SOURCE,
            reward_ref=ref,
            user_id=user_id,
            reasons=decision.reasons,
            now_ns=now_ns,
        )
    return Conversion(click.click_id, user_id, milestone.id, pricing.currency, pricing.base_amount + bonuses)


# -- reversals ----------------------------------------------------------------------------------------
def _reverse_rewards(
    conn: Connection, ledger: LedgerService, provider: str, transaction_id: str
) -> list[Any]:
    """Reverse the base reward and every bonus paid for a conversion; the cashback entries, as found."""
    ref = reward_ref(provider, transaction_id)
    entries = [cashback.find(conn, SOURCE, r) for r in (ref, *paid_bonus_refs(conn, SOURCE, ref))]
    rewards = [e for e in entries if e is not None]
    for entry in rewards:
        cashback.reverse(conn, ledger, source=SOURCE, ref=entry["ref"])
    return rewards


_PAID_FOR_MILESTONE = select(tracking_conversions.c.transaction_id).where(
    tracking_conversions.c.provider == bindparam("provider"),
    tracking_conversions.c.click_id == bindparam("click_id"),
    tracking_conversions.c.milestone_id == bindparam("milestone_id"),
)


def undo_rejected(conn: Connection, ledger: LedgerService, provider: str, claim: VerifiedPostback) -> int:
    """The provider rejected this install or event: reverse what its conversions of the same click and
    milestone were paid (nothing when none was); returns the amount that was still in effect."""
    click, game = bind(conn, provider, claim)
    milestone = next(
        (
            m
            for m in catalog.milestones_with_uses(conn, game.id, int(click.user_id))
            if m.key == claim.event_key
        ),
        None,
    )
    if milestone is None:
        return 0
    params = {"provider": provider, "click_id": click.click_id, "milestone_id": milestone.id}
    undone = 0
    for transaction_id in driver.scalars(conn, _PAID_FOR_MILESTONE, params):
        rewards = _reverse_rewards(conn, ledger, provider, str(transaction_id))
        undone += sum(int(e["amount"]) for e in rewards if e["status"] not in _UNDONE)
    return undone


def reverse(
    conn: Connection, ledger: LedgerService, provider: str, claim: VerifiedPostback, risk: RiskEngine
) -> Conversion:
    original_id = claim.reverses_transaction_id
    if original_id is None:
        raise Rejected("reversal_unreferenced", "the reversal does not name the transaction it reverses")
    original = conn.execute(
        select(tracking_conversions).where(
            tracking_conversions.c.provider == provider,
            tracking_conversions.c.transaction_id == original_id,
        )
    ).first()
    ref = reward_ref(provider, original_id)
    if original is None or cashback.find(conn, SOURCE, ref) is None:  # none, or itself a reversal
        raise Rejected("unknown_transaction", f"no accepted conversion {original_id!r} to reverse")
    if original.click_id != claim.click_id:
        raise Rejected("reversal_mismatch", f"conversion {original_id!r} was for another click")
    rewards = _reverse_rewards(conn, ledger, provider, original_id)
    repeated = all(e["status"] in _UNDONE for e in rewards)
    reversal_ref = f"{SOURCE}:reversal:{reward_ref(provider, claim.transaction_id)}"
    refund = RiskEvent("refund", reversal_ref, ledger.clock.now_ns(), keys={"user": str(original.user_id)})
    observe(risk, refund)
    return Conversion(
        original.click_id,
        int(original.user_id),
        int(original.milestone_id),
        str(original.currency),
        sum(int(e["amount"]) for e in rewards),
        duplicate=repeated,
    )
