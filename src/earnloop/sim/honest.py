"""Honest users and their habits: they sign up (most on day one), click games and play them to
milestones over hours and days (a daily quest at most once a day), shop at partner merchants now and
then (an order is approved days later; a few are refunded, at most one per user), scan e-invoices
into a carrier, add one payout destination and withdraw to it from their own phone. Also the honest
game play that attackers imitate (:func:`play_game`)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial

from earnloop.sim.adapter import Origin, Receipt
from earnloop.sim.plan import HOUR_S, Planner
from earnloop.sim.spec import HONEST
from earnloop.sim.world import DAY_NS, NS_PER_S, START_NS, Game, World

MINUTE_S = 60
REFUND_SHARE = 0.05  # of honest orders (at most one per user)
CARRIER_SHARE = 0.35
DESTINATION_SHARE = 0.6
PAYER_SHARE = 0.3


def plan_population(p: Planner, honest_users: int) -> None:
    """Every honest user's steps, plus the daily sweep that confirms cashback past its lock period."""
    for day in range(p.days):
        p.add(p.at(day, 5 * MINUTE_S), HONEST, "worker", World.confirm_due)
    for _ in range(honest_users):
        plan_user(p)


def plan_user(p: Planner) -> None:
    """One honest user's weeks: sign-up, games, browsing, orders, receipts, payments and payouts."""
    rng = p.rng
    handle = p.handle("user")
    origin = p.phone_origin()
    join_day = 0 if rng.random() < 0.7 else rng.randrange(p.days - 1)
    joined = p.waking(join_day)
    p.add(joined, HONEST, handle, partial(World.sign_up, handle=handle, origin=origin))
    away = Origin(origin.device, p.ip(), origin.user_agent, origin.phone)  # the phone on mobile data
    played = rng.sample(p.catalog.games, min(len(p.catalog.games), rng.choice((0, 1, 1, 2, 2, 3))))
    for number, game in enumerate(played):
        latest_s = 6 * HOUR_S if number == 0 else 3 * DAY_NS / NS_PER_S
        start = joined + int(rng.uniform(2 * MINUTE_S, latest_s) * NS_PER_S)
        play_game(p, HONEST, handle, handle, rng.choice((origin, origin, away)), game, start)
    browse(p, handle, origin, joined)
    refunded = False
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3, 4))):
        refund = not refunded and rng.random() < REFUND_SHARE
        refunded |= refund
        shop(p, HONEST, handle, handle, origin, joined + rng.randrange(DAY_NS * p.days), refund=refund)
    if rng.random() < CARRIER_SHARE:
        scan_receipts(p, handle, joined)
    if rng.random() < PAYER_SHARE:
        plan_payments(p, handle, origin, joined)
    if rng.random() < DESTINATION_SHARE:
        plan_payouts(p, handle, origin, joined)
    elif played and join_day == 0:
        p.players.append(handle)  # earns from day one and never withdraws: a balance worth stealing


def browse(p: Planner, handle: str, origin: Origin, joined: int) -> None:
    """Clicks that lead nowhere, as most clicks do: games tried and never played to a milestone,
    merchants visited without buying."""
    rng = p.rng
    for _ in range(rng.randint(2, 8)):
        game = rng.choice(p.catalog.games)
        at = joined + rng.randrange(DAY_NS * p.days)
        p.add(
            at,
            HONEST,
            handle,
            partial(World.click_game, handle=handle, game=game.key, origin=origin, name=p.name("click")),
        )
    for _ in range(rng.randint(4, 16)):
        merchant = rng.choice(p.catalog.merchants)
        at = joined + rng.randrange(DAY_NS * p.days)
        step = partial(
            World.click_merchant, handle=handle, merchant=merchant.key, origin=origin, name=p.name("mclick")
        )
        p.add(at, HONEST, handle, step)


def play_game(
    p: Planner,
    label: str,
    actor: str,
    handle: str,
    origin: Origin,
    game: Game,
    clicked: int,
    *,
    first_after_s: tuple[float, float] = (10 * MINUTE_S, 4 * HOUR_S),
) -> None:
    """Click ``game`` at ``clicked``, then reach its milestones as a player does: the tutorial minutes
    to hours later, the daily quest on most days, each level hours to days after the previous one."""
    rng = p.rng
    click = p.name("click")
    if not p.add(
        clicked,
        label,
        actor,
        partial(World.click_game, handle=handle, game=game.key, origin=origin, name=click),
    ):
        return
    at = clicked + int(rng.uniform(*first_after_s) * NS_PER_S)
    if not _milestone(p, label, actor, click, game, "tutorial", at):
        return
    daily = game.daily
    if daily is not None:
        day_start = at + int(rng.uniform(5 * MINUTE_S, HOUR_S) * NS_PER_S)
        for offset in range(p.days):
            if offset == 0 or rng.random() < 0.6:
                when = day_start + offset * DAY_NS + int(rng.uniform(0, 8 * HOUR_S) * NS_PER_S)
                _milestone(p, label, actor, click, game, "daily", when)
        at = day_start
    for level in game.levels:
        if rng.random() < 0.3:
            return
        at += int(rng.uniform(3 * HOUR_S, 2 * DAY_NS / NS_PER_S) * NS_PER_S)
        if not _milestone(p, label, actor, click, game, level.key, at):
            return


def _milestone(p: Planner, label: str, actor: str, click: str, game: Game, key: str, at: int) -> bool:
    transaction_id = p.name("txn", key)
    step = partial(World.postback, click=click, game=game.key, milestone=key, transaction_id=transaction_id)
    return p.add(at, label, actor, step)


def shop(
    p: Planner,
    label: str,
    actor: str,
    handle: str,
    origin: Origin,
    at: int,
    *,
    refund: bool,
    settle_after_s: tuple[float, float] = (HOUR_S, 3 * DAY_NS / NS_PER_S),
) -> int:
    """Click a merchant, buy (the partner reports it pending minutes later) and, days later, the order
    is approved, or refunded (``refund``). Returns when the refund is reported (or the approval)."""
    rng = p.rng
    merchant = rng.choice(p.catalog.merchants)
    click, order = p.name("mclick"), p.name("order")
    amount = rng.randrange(100, 5_000) * 100
    p.add(
        at,
        label,
        actor,
        partial(World.click_merchant, handle=handle, merchant=merchant.key, origin=origin, name=click),
    )
    bought = at + int(rng.uniform(2 * MINUTE_S, 40 * MINUTE_S) * NS_PER_S)
    report = partial(World.report, click=click, merchant=merchant, order_id=order, amount=amount)
    p.add(bought, label, actor, partial(report, status="pending"))
    later = bought + int(rng.uniform(*settle_after_s) * NS_PER_S)
    p.add(later, label, actor, partial(report, status="reversed" if refund else "approved"))
    return later


def scan_receipts(p: Planner, handle: str, joined: int) -> None:
    """Bind a carrier, then most days one or two receipts from partner sellers, synced each evening."""
    rng = p.rng
    bound = joined + int(rng.uniform(HOUR_S, DAY_NS / NS_PER_S) * NS_PER_S)
    barcode = "/" + "".join(rng.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(7))
    p.add(bound, HONEST, handle, partial(World.bind_carrier, handle=handle, barcode=barcode))
    first_day = (bound - START_NS) // DAY_NS + 1
    for day in range(first_day, p.days):
        if rng.random() >= 0.3:
            continue
        on = date(2026, 1, 5) + timedelta(days=day)
        found = [
            Receipt(_invoice_number(p), on, merchant.name, merchant.tax_id, rng.randrange(50, 2_000))
            for merchant in rng.sample(p.catalog.merchants, min(len(p.catalog.merchants), rng.randint(1, 2)))
        ]
        p.add(
            p.at(day, 23 * HOUR_S),
            HONEST,
            handle,
            partial(World.receipts, handle=handle, day=on, found=found),
        )


def _invoice_number(p: Planner) -> str:
    letters = "".join(chr(ord("A") + p.rng.randrange(26)) for _ in range(2))
    return f"{letters}{p.rng.randrange(10**8):08d}"


def plan_payouts(p: Planner, handle: str, origin: Origin, joined: int) -> None:
    """One payout destination a day or so after joining; one or two withdrawals later, from home."""
    rng = p.rng
    added = joined + int(rng.uniform(HOUR_S, 3 * DAY_NS / NS_PER_S) * NS_PER_S)
    name = p.name("dest")
    p.add(
        added,
        HONEST,
        handle,
        partial(
            World.add_destination, handle=handle, account_number=p.account_number(), origin=origin, name=name
        ),
    )
    for _ in range(rng.randint(1, 2)):
        when = added + int(rng.uniform(DAY_NS / NS_PER_S, p.days * DAY_NS / NS_PER_S) * NS_PER_S)
        share = rng.randrange(3_000, 10_001)
        step = partial(
            World.withdraw, handle=handle, destination=name, share_bps=share, key=p.name("wd"), origin=origin
        )
        p.add(when, HONEST, handle, step)


def plan_payments(p: Planner, handle: str, origin: Origin, joined: int) -> None:
    """A few purchases paid from the wallet at partner merchants, from a couple of days after joining."""
    rng = p.rng
    for _ in range(rng.randint(1, 3)):
        at = joined + int(rng.uniform(2 * DAY_NS / NS_PER_S, p.days * DAY_NS / NS_PER_S) * NS_PER_S)
        merchant = rng.choice(p.catalog.merchants)
        step = partial(
            World.pay,
            handle=handle,
            merchant=merchant.key,
            order_id=p.name("pay"),
            share_bps=rng.randrange(500, 5_000),
            origin=origin,
        )
        p.add(at, HONEST, handle, step)
