"""The attackers: one planner per attack type of ``docs/risk-attacks.md``, each acting only through the
calls an attacker can make (sign up, click, a provider's or partner's signed postback, a payout
destination, a withdrawal) and leaving the signals that page describes. Every step is labelled with its
attack type, except the genuine history an attacker builds first (labelled ``honest``: those events
were real), which is said where it happens."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from earnloop.sim.adapter import Origin
from earnloop.sim.honest import MINUTE_S, play_game, shop
from earnloop.sim.plan import EMULATOR_AGENTS, HOUR_S, Planner
from earnloop.sim.spec import HONEST
from earnloop.sim.world import NS_PER_S, World


def _s(seconds: float) -> int:
    return int(seconds * NS_PER_S)


def _account(p: Planner, label: str, actor: str, origin: Origin, at: int) -> str:
    handle = p.handle(actor)
    p.add(at, label, actor, partial(World.sign_up, handle=handle, origin=origin))
    return handle


def _postback(
    p: Planner, label: str, actor: str, click: str, game: str, milestone: str, at: int, txn: str = ""
) -> str:
    transaction_id = txn or p.name("txn", milestone)
    p.add(
        at,
        label,
        actor,
        partial(World.postback, click=click, game=game, milestone=milestone, transaction_id=transaction_id),
    )
    return transaction_id


def _click(p: Planner, label: str, actor: str, handle: str, game: str, origin: Origin, at: int) -> str:
    click = p.name("click")
    p.add(at, label, actor, partial(World.click_game, handle=handle, game=game, origin=origin, name=click))
    return click


def click_injection(p: Planner, number: int) -> None:
    """Malware fires a click moments before each game is opened; the first milestone follows seconds
    after the click (an old account of the player's, on a real phone)."""
    label, actor = "click_injection", f"click_injection-{number}"
    origin = p.phone_origin()
    handle = _account(p, HONEST, actor, origin, p.waking(0))
    for game in p.rng.sample(p.catalog.games, len(p.catalog.games)):
        clicked = p.waking(p.rng.randrange(1, p.days))
        click = _click(p, label, actor, handle, game.key, origin, clicked)
        _postback(p, label, actor, click, game.key, "tutorial", clicked + _s(p.rng.uniform(3, 25)))


def click_flooding(p: Planner, number: int) -> None:
    """One device on one /24 fires hundreds of clicks within an hour for every game, spread over a
    handful of accounts; hours later organic installs land on some of those clicks."""
    label, actor = "click_flooding", f"click_flooding-{number}"
    subnet = p.subnet()
    origin = p.phone_origin(subnet)
    handles = [_account(p, label, actor, origin, p.waking(0)) for _ in range(5)]
    day = p.rng.randrange(1, p.days)
    burst = p.at(day, p.rng.uniform(8 * HOUR_S, 20 * HOUR_S))
    last_click: dict[tuple[str, str], tuple[str, int]] = {}
    for n in range(150):
        handle, game = p.rng.choice(handles), p.rng.choice(p.catalog.games)
        at = burst + _s(n * 20 + p.rng.uniform(0, 20))
        last_click[(handle, game.key)] = (_click(p, label, actor, handle, game.key, origin, at), at)
    for (_, game_key), (click, at) in sorted(last_click.items()):
        if p.rng.random() < 0.3:
            _postback(
                p, label, actor, click, game_key, "tutorial", at + _s(p.rng.uniform(HOUR_S, 12 * HOUR_S))
            )


def sdk_spoofing(p: Planner, number: int) -> None:
    """A script sends correctly signed postbacks for every milestone of a game within a minute of the
    click: milestones nobody reached."""
    label, actor = "sdk_spoofing", f"sdk_spoofing-{number}"
    origin = p.phone_origin()
    handle = _account(p, HONEST, actor, origin, p.waking(0))
    for game in p.rng.sample(p.catalog.games, min(3, len(p.catalog.games))):
        clicked = p.waking(p.rng.randrange(1, p.days))
        click = _click(p, label, actor, handle, game.key, origin, clicked)
        at = clicked
        for milestone in game.milestones:
            at += _s(p.rng.uniform(2, 12))
            _postback(p, label, actor, click, game.key, milestone.key, at)


def device_farm(p: Planner, number: int) -> None:
    """Racks of phones and emulators on one /24, several accounts per device, each playing like a
    player (plausible timing): the many accounts per device and per /24 give it away."""
    label, actor = "device_farm", f"device_farm-{number}"
    subnet = p.subnet()
    day = p.rng.randrange(0, max(1, p.days - 2))
    for _ in range(3):
        agent = p.rng.choice(EMULATOR_AGENTS) if p.rng.random() < 0.6 else p.phone_origin().user_agent
        device = Origin(p.device(), p.ip(subnet), agent)
        for _ in range(6):
            joined = p.waking(day)
            handle = _account(p, label, actor, device, joined)
            game = p.rng.choice(p.catalog.games)
            play_game(
                p, label, actor, handle, device, game, joined + _s(p.rng.uniform(MINUTE_S, 30 * MINUTE_S))
            )


def callback_replay(p: Planner, number: int) -> None:
    """A player's own genuine postbacks (labelled honest) are captured and re-sent: as they were
    (duplicates), with new transaction ids for a milestone already paid (refused), and with new ids for
    the daily quest, a burst within minutes."""
    label, actor = "callback_replay", f"callback_replay-{number}"
    origin = p.phone_origin()
    joined = p.waking(0)
    handle = _account(p, HONEST, actor, origin, joined)
    game = next(g for g in p.catalog.games if g.daily is not None)
    clicked = joined + _s(HOUR_S)
    click = _click(p, HONEST, actor, handle, game.key, origin, clicked)
    tutorial = _postback(p, HONEST, actor, click, game.key, "tutorial", clicked + _s(40 * MINUTE_S))
    daily = _postback(p, HONEST, actor, click, game.key, "daily", clicked + _s(90 * MINUTE_S))
    at = p.waking(p.rng.randrange(1, p.days))
    for milestone, txn in (("tutorial", tutorial), ("daily", daily)):
        at += _s(p.rng.uniform(5, 30))
        _postback(p, label, actor, click, game.key, milestone, at, txn)
    for _ in range(2):
        at += _s(p.rng.uniform(5, 30))
        _postback(p, label, actor, click, game.key, "tutorial", at)
    for _ in range(6):
        at += _s(p.rng.uniform(5, 30))
        _postback(p, label, actor, click, game.key, "daily", at)


def multi_accounting(p: Planner, number: int) -> None:
    """A person with one phone, one phone number and one bank account (an old main account, honest)
    opens several new accounts on the same phone, points each at the same bank account and takes
    each one's new-player reward the same day."""
    label, actor = "multi_accounting", f"multi_accounting-{number}"
    origin = p.phone_origin()
    bank = p.account_number()
    joined = p.waking(0)
    main = _account(p, HONEST, actor, origin, joined)
    p.add(
        joined + _s(HOUR_S),
        HONEST,
        actor,
        partial(World.add_destination, handle=main, account_number=bank, origin=origin, name=p.name("dest")),
    )
    day = p.rng.randrange(1, p.days)
    at = p.at(day, 9 * HOUR_S)
    for _ in range(6):
        at += _s(p.rng.uniform(10 * MINUTE_S, 90 * MINUTE_S))
        handle = _account(p, label, actor, origin, at)
        p.add(
            at + _s(60),
            label,
            actor,
            partial(
                World.add_destination, handle=handle, account_number=bank, origin=origin, name=p.name("dest")
            ),
        )
        game = p.rng.choice(p.catalog.games)
        click = _click(p, label, actor, handle, game.key, origin, at + _s(120))
        _postback(
            p, label, actor, click, game.key, "tutorial", at + _s(p.rng.uniform(15 * MINUTE_S, 90 * MINUTE_S))
        )


def refund_after_cashback(p: Planner, number: int) -> None:
    """Buys to collect cashback and has every order refunded within hours, twice a day, again and again
    (an old account on a real phone)."""
    label, actor = "refund_after_cashback", f"refund_after_cashback-{number}"
    origin = p.phone_origin()
    at = p.waking(0)
    handle = _account(p, HONEST, actor, origin, at)
    at += _s(2 * HOUR_S)
    while at < p.end_ns:
        refunded = shop(
            p, label, actor, handle, origin, at, refund=True, settle_after_s=(2 * HOUR_S, 8 * HOUR_S)
        )
        at = refunded + _s(p.rng.uniform(HOUR_S, 6 * HOUR_S))


def stolen_account_withdrawal(p: Planner, number: int) -> None:
    """Takes over an honest player's account from a device and network new to it, adds a payout
    destination of its own and withdraws most of the balance minutes later."""
    label, actor = "stolen_account_withdrawal", f"stolen_account_withdrawal-{number}"
    victim = p.players[number] if number < len(p.players) else _player(p)
    agent = p.rng.choice(EMULATOR_AGENTS) if p.rng.random() < 0.5 else p.phone_origin().user_agent
    origin = Origin(p.device(), p.ip(), agent)
    at = p.waking(p.days - 1) - _s(2 * HOUR_S)
    name = p.name("dest")
    p.add(
        at,
        label,
        actor,
        partial(
            World.add_destination, handle=victim, account_number=p.account_number(), origin=origin, name=name
        ),
    )
    share = p.rng.randrange(8_000, 10_001)
    step = partial(
        World.withdraw, handle=victim, destination=name, share_bps=share, key=p.name("wd"), origin=origin
    )
    p.add(at + _s(p.rng.uniform(2 * MINUTE_S, 10 * MINUTE_S)), label, actor, step)


def _player(p: Planner) -> str:
    """An honest player who earns from day one and never withdraws (when the population has too few)."""
    origin = p.phone_origin()
    joined = p.waking(0)
    handle = p.handle("user")
    p.add(joined, HONEST, handle, partial(World.sign_up, handle=handle, origin=origin))
    game = p.rng.choice(p.catalog.games)
    play_game(p, HONEST, handle, handle, origin, game, joined + _s(p.rng.uniform(2 * MINUTE_S, HOUR_S)))
    return handle


ATTACKS: dict[str, Callable[[Planner, int], None]] = {
    "click_injection": click_injection,
    "click_flooding": click_flooding,
    "sdk_spoofing": sdk_spoofing,
    "device_farm": device_farm,
    "callback_replay": callback_replay,
    "multi_accounting": multi_accounting,
    "refund_after_cashback": refund_after_cashback,
    "stolen_account_withdrawal": stolen_account_withdrawal,
}
