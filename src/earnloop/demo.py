"""Demo data for ``make demo``, created through the real services (ledger, wallet, pay, donations,
catalog, tracking and the worker's confirmation sweep).

What it seeds: users alice and bob, a merchant and a charity with some money moved between them; a
catalog of merchants (seller tax ids, cashback rates, lock periods), games with milestones and a
funded "2x zone" campaign; and a simulated population (fixed seed) that clicks games and earns
milestones through signed ``earnloop`` postbacks handled by the real earn engine. Day one's rewards
are confirmed by the worker's sweep, day two's are still pending. Some day-one players also shop at
partner merchants (``demo_shopping``).

Idempotent: users and partners are looked up by name, catalog entries are upserted by key, money moves
carry fixed idempotency keys, and each simulated day is skipped once it has been committed, so seeding
twice changes nothing. Secrets of what it creates for people to use (user tokens, partner API keys)
are written once, one file each under ``var/demo/`` (mode 0600), never printed. The simulated players'
tokens and the other partners' keys are not kept (the database holds only their digests). Each game
publisher signs its own games' ``earnloop`` postbacks with a random secret of its own that lives in the
database only, like any postback secret (ADR 0016). The catalog it seeds is data in
``earnloop.demo_catalog``.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, select

from earnloop import demo_shopping
from earnloop.auth import passwords
from earnloop.auth.admin_token import ensure_admin_token_file
from earnloop.auth.models import partners, users
from earnloop.auth.service import create_partner, create_user
from earnloop.catalog import service as catalog
from earnloop.config import Settings
from earnloop.currencies import currency
from earnloop.db.engine import Database
from earnloop.demo_catalog import GAMES, MERCHANT, MERCHANTS, TWO_X_FUNDING, TWO_X_ZONE
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine, demo_engine
from earnloop.secretbox import process_box
from earnloop.sim import adapter
from earnloop.tracking import service as tracking
from earnloop.tracking.models import tracking_clicks
from earnloop.wallet import service
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.chart import AccountKind
from earnloop.wallet.donations import service as donations
from earnloop.wallet.holds import mandates
from earnloop.wallet.holds import service as holds
from earnloop.wallet.pay import service as pay
from earnloop.worker import confirm_cashback

CURRENCY = "TWD"
DAY_NS = 86_400 * 1_000_000_000
USERS = {"alice": 50_000, "bob": 20_000}
# Sign-in to the app for people trying the demo: demo data printed on purpose, not secrets.
DEMO_LOGINS = {"alice": "alice-earns-2026", "bob": "bob-earns-2026"}
CHARITY = "Harbour Food Bank"
HOUSE_PUBLISHER = "Lantern Games"  # publishes the demo games that name no other publisher


# -- the simulated population -------------------------------------------------------------------------
POPULATION = 50
LATE_JOINERS = 5  # the last players sign up on day two
POPULATION_SEED = 20_261_204
PROVIDER = adapter.PROVIDER
PLAYERS_IP = "198.51.100.20"  # TEST-NET-2: the players' network
USER_AGENTS = {
    "ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)",
    "android": "Mozilla/5.0 (Linux; Android 14; Pixel 8)",
}


@dataclass(frozen=True)
class Play:
    """One player's progress in one game: clicked on ``first_day``, milestones reached on days 1 and 2."""

    handle: str
    game_key: str
    device: str  # a key of USER_AGENTS
    first_day: int
    day_one: tuple[str, ...]
    day_two: tuple[str, ...]

    def milestones_on(self, day: int) -> tuple[str, ...]:
        return self.day_one if day == 1 else self.day_two

    def transaction_id(self, milestone: str) -> str:
        return f"demo-{self.handle}-{self.game_key}-{milestone}"


# alice's own game: two milestones confirmed by the sweep, the third still pending.
ALICE_PLAY = Play("alice", "dragon-realm", "android", 1, ("lv5", "lv10"), ("lv20",))


def players(day: int) -> list[str]:
    """The simulated players who sign up on ``day`` (1 or 2)."""
    first_late = POPULATION - LATE_JOINERS + 1
    numbers = range(1, first_late) if day == 1 else range(first_late, POPULATION + 1)
    return [f"player-{n:02d}" for n in numbers]


def plays() -> list[Play]:
    """Who plays what and how far (deterministic: a fixed seed)."""
    rng = random.Random(POPULATION_SEED)
    answer = [ALICE_PLAY]
    for day in (1, 2):
        for handle in players(day):
            for game in rng.sample(GAMES, rng.randint(1, 3)):
                keys = [m["key"] for m in game["milestones"]]
                reached = rng.randint(0, len(keys))
                split = rng.randint(0, reached) if day == 1 else 0
                device = rng.choice(game["platforms"])
                answer.append(
                    Play(handle, game["key"], device, day, tuple(keys[:split]), tuple(keys[split:reached]))
                )
    return answer


def seed(db: Database, settings: Settings) -> str:
    """Create the demo population; return a human summary with example requests."""
    token_file = ensure_admin_token_file(settings)
    secrets_dir = Path(settings.admin_token_file).parent / "demo"
    ledger = LedgerService(SystemClock())
    now = ledger.clock.now_ns()
    created: dict[str, str] = {}
    risk = demo_engine()
    with db.uow() as conn:
        ids = {handle: _user(conn, handle, created) for handle in USERS}
        _set_demo_passwords(conn, ids)
        merchant = _partner(conn, MERCHANT, "merchant", created)
        charity = _partner(conn, CHARITY, "charity", created)
        for handle, funds in USERS.items():
            _fund(conn, ledger, ids[handle], handle, funds)
        _cashback(conn, ledger, ids["alice"], now)
        _one_cent_purchase(conn, ledger, risk, merchant, ids["alice"])
        _deposit_holds(conn, ledger, merchant, ids["alice"], ids["bob"])
        _donation(conn, ledger, charity, ids["bob"], now)
    for name, secret in created.items():
        _write_secret(secrets_dir / f"{name}.token", secret)
    with db.uow() as conn:
        _catalog(conn, ledger, now)
    _simulate(db, ledger, risk)
    demo_shopping.shop(db, ledger, players(1), risk)
    base = f"http://{settings.host}:{settings.port}"
    alice_account = service.user_account(ids["alice"], currency(CURRENCY)).id
    alice_auth = f'-H "Authorization: Bearer $(cat {secrets_dir}/alice.token)"'
    admin_auth = f'-H "Authorization: Bearer $(cat {token_file})"'
    return (
        f"demo ready: users alice and bob, a merchant and a charity (tokens and keys in {secrets_dir}/)\n"
        f"  catalog: {len(MERCHANTS)} merchants, {len(GAMES)} games, a funded {TWO_X_ZONE['name']} campaign; "
        f"{POPULATION} simulated players earned game cashback through signed postbacks, "
        "some shopped at partner merchants (signed conversion postbacks, pending for the lock period)\n"
        f"  curl {base}/v1/catalog/games\n"
        f"  curl {alice_auth} {base}/v1/me/wallets/{CURRENCY}\n"
        f"  curl {alice_auth} {base}/v1/me/wallets/{CURRENCY}/history\n"
        f"  curl {alice_auth} {base}/v1/me/holds   # a deposit request to approve (POST …/approve)\n"
        f"  curl {admin_auth} {base}/v1/ledger/accounts/{alice_account}/balance\n"
        f"{_where_to_go(settings)}"
    )


def _where_to_go(settings: Settings) -> str:
    """The app's address (by host name on this machine: passkeys refuse IP addresses) and the logins."""
    local = settings.host in {"127.0.0.1", "::1", "0.0.0.0", "localhost"}  # noqa: S104 - compared only
    host = "localhost" if local else settings.host
    logins = "\n".join(f"  {handle:<6} password {password}" for handle, password in DEMO_LOGINS.items())
    return f"the app: http://{host}:{settings.port}/app — sign in as\n{logins}"


def _set_demo_passwords(conn: Connection, ids: dict[str, int]) -> None:
    """The demo users' app passwords (:data:`DEMO_LOGINS`)."""
    for handle, password in DEMO_LOGINS.items():
        passwords.set_password(conn, ids[handle], password)


def _write_secret(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")


def _find_user(conn: Connection, handle: str) -> int | None:
    row = conn.execute(select(users.c.id).where(users.c.handle == handle)).first()
    return None if row is None else int(row.id)


def _user(conn: Connection, handle: str, secrets: dict[str, str]) -> int:
    found = _find_user(conn, handle)
    if found is not None:
        return found
    created = create_user(conn, handle)
    secrets[handle] = created.secret
    return created.id


def _partner(conn: Connection, name: str, kind: str, keep_key_in: dict[str, str] | None = None) -> int:
    """The partner named ``name``, created when missing (its API key kept under ``kind`` if asked)."""
    row = conn.execute(select(partners.c.id).where(partners.c.name == name)).first()
    if row is not None:
        return int(row.id)
    created = create_partner(conn, name, kind, CURRENCY)
    if keep_key_in is not None:
        keep_key_in[kind] = created.secret
    return created.id


def _fund(conn: Connection, ledger: LedgerService, user_id: int, handle: str, amount: int) -> None:
    service.open_wallet(conn, ledger, user_id, CURRENCY)
    service.adjust(
        conn,
        ledger,
        idempotency_key=f"demo-fund-{handle}",
        user_id=user_id,
        currency_code=CURRENCY,
        amount=amount,
        direction="credit",
        reason="demo welcome credit",
        actor="demo",
    )


def _cashback(conn: Connection, ledger: LedgerService, user_id: int, now: int) -> None:
    """Two operator-funded rewards; the one due now is confirmed by the worker's sweep in ``_simulate``."""
    operator = cashback.Funding(AccountKind.OPERATOR_FUNDING, 0)
    rewards = (
        ("shopping", "demo-hotel-booking", 1_250, now + 30 * DAY_NS),
        ("game", "demo-game-level-10", 300, now),
    )
    for source, ref, amount, release_at in rewards:
        if cashback.find(conn, source, ref) is not None:
            continue
        cashback.credit_pending(
            conn,
            ledger,
            source=source,
            ref=ref,
            user_id=user_id,
            currency_code=CURRENCY,
            amount=amount,
            release_at_ns=release_at,
            funding=operator,
        )


def _one_cent_purchase(
    conn: Connection, ledger: LedgerService, risk: RiskEngine, merchant_id: int, user_id: int
) -> None:
    order = pay.create_order(
        conn,
        ledger,
        merchant_id=merchant_id,
        merchant_order_id="demo-water-1",
        amount=1,
        currency_code=CURRENCY,
        ttl_s=pay.ORDER_TTL_MAX_S,
        payer_user_id=user_id,  # only this user may see and pay it
    )
    if order["state"] == "awaiting_user":
        pay.confirm(
            conn,
            ledger,
            idempotency_key="demo-pay-water-1",
            user_id=user_id,
            order_id=order["order_id"],
            risk=risk,
        )


def _deposit_holds(conn: Connection, ledger: LedgerService, merchant_id: int, alice: int, bob: int) -> None:
    """A bike deposit: the merchant asks alice (a request she has not approved: nothing is held) and holds
    bob's at once under the mandate he granted the merchant."""
    holds.set_policy(conn, product="demo-bike", currency_code=CURRENCY, partner_id=merchant_id, amount=500)
    mandates.grant(
        conn,
        ledger,
        idempotency_key="demo-mandate-bob",
        user_id=bob,
        partner_id=merchant_id,
        currency_code=CURRENCY,
        total_limit=1_500,
        max_per_hold=500,
        expires_in_s=30 * 86_400,
    )
    for user_id, ref, use_mandate in ((alice, "demo-bike-alice", False), (bob, "demo-bike-bob", True)):
        holds.request_hold(
            conn,
            ledger,
            idempotency_key=ref,
            merchant_id=merchant_id,
            product="demo-bike",
            user_id=user_id,
            currency_code=CURRENCY,
            ref=ref,
            approve_within_s=holds.APPROVE_WITHIN_MAX_S,
            use_mandate=use_mandate,
        )


def _donation(conn: Connection, ledger: LedgerService, charity_id: int, user_id: int, now: int) -> None:
    existing = {c["name"]: c for c in donations.list_campaigns(conn, ledger, charity_id)}
    campaign = existing.get("Winter meals") or donations.create_campaign(
        conn,
        ledger,
        charity_id=charity_id,
        name="Winter meals",
        currency_code=CURRENCY,
        goal=1_000_000,
        starts_at_ns=now - DAY_NS,
        ends_at_ns=now + 365 * DAY_NS,
    )
    donations.donate(
        conn,
        ledger,
        idempotency_key="demo-donation-1",
        user_id=user_id,
        campaign_id=campaign["campaign_id"],
        amount=100,
    )


# -- catalog ------------------------------------------------------------------------------------------
def _catalog(conn: Connection, ledger: LedgerService, now: int) -> None:
    """Merchants and games upserted by key; the 2x zone created once (then left as an operator may have
    changed it) and funded with a fixed idempotency key."""
    for name, entry in MERCHANTS.items():
        partner_id = _partner(conn, name, "merchant")
        catalog.upsert_merchant(conn, {**entry, "name": name, "partner_id": partner_id})
    for game in GAMES:
        spec = {k: v for k, v in game.items() if k != "publisher"}
        spec["publisher_id"] = _partner(conn, game.get("publisher", HOUSE_PUBLISHER), "game_publisher")
        catalog.upsert_game(
            conn, {**spec, "tracking_provider": PROVIDER, "status": "active", "currency": CURRENCY}
        )
    existing = {c["key"]: c for c in catalog.list_campaigns(conn)}
    campaign = existing.get(TWO_X_ZONE["key"]) or catalog.upsert_campaign(
        conn, {**TWO_X_ZONE, "starts_at_ns": now - DAY_NS, "ends_at_ns": now + 90 * DAY_NS}
    )
    catalog.fund_campaign(conn, ledger, campaign["campaign_id"], TWO_X_FUNDING, "demo-fund-2x-zone")


# -- the simulated population -------------------------------------------------------------------------
def _simulate(db: Database, ledger: LedgerService, risk: RiskEngine) -> None:
    """Day one: players sign up, click games and earn milestones; the worker's sweep confirms what is
    due; day two: late joiners sign up and everyone earns more, still pending. A day whose players
    exist has been committed (one transaction per day) and is not played again."""
    with db.uow(write=False) as conn:
        if _find_user(conn, players(2)[-1]) is not None:
            return
    all_plays = plays()
    with db.uow() as conn:
        if _find_user(conn, players(1)[0]) is None:
            _play_day(conn, ledger, all_plays, day=1, risk=risk)
    confirm_cashback(db, ledger)
    with db.uow() as conn:
        _play_day(conn, ledger, all_plays, day=2, risk=risk)


def _play_day(
    conn: Connection, ledger: LedgerService, all_plays: list[Play], *, day: int, risk: RiskEngine
) -> None:
    for handle in players(day):
        create_user(conn, handle)
    games = {g["key"]: g for g in catalog.list_games(conn)}
    game_ids = {key: g["game_id"] for key, g in games.items()}
    demo_keys = {game["key"] for game in GAMES}
    now_ns = ledger.clock.now_ns()
    signing = {
        k: adapter.publisher_secret(conn, process_box(), g["publisher_id"], now_ns)
        for k, g in games.items()
        if k in demo_keys
    }
    for play in all_plays:
        if play.first_day > day:
            continue
        user_id = _find_user(conn, play.handle)
        assert user_id is not None, "a player signs up before playing"
        game_id = game_ids[play.game_key]
        if play.first_day == day:
            click_id = tracking.record_click(
                conn,
                user_id=user_id,
                game_id=game_id,
                user_agent=USER_AGENTS[play.device],
                client_ip=PLAYERS_IP,
                now_ns=ledger.clock.now_ns(),
                risk=risk,
            )["click_id"]
        else:
            click_id = _last_click(conn, user_id, game_id)
        for milestone in play.milestones_on(day):
            secret = signing[play.game_key]
            _postback(conn, ledger, risk, secret, play.transaction_id(milestone), click_id, milestone)


def _last_click(conn: Connection, user_id: int, game_id: int) -> str:
    return str(
        conn.execute(
            select(tracking_clicks.c.click_id)
            .where(tracking_clicks.c.user_id == user_id, tracking_clicks.c.game_id == game_id)
            .order_by(tracking_clicks.c.created_at_ns.desc())
            .limit(1)
        ).scalar_one()
    )


def _postback(
    conn: Connection,
    ledger: LedgerService,
    risk: RiskEngine,
    secret: str,
    transaction_id: str,
    click_id: str,
    event: str,
) -> None:
    """A provider's signed milestone postback, handled by the real earn engine; it must be accepted."""
    done = adapter.game_postback(
        conn,
        ledger,
        risk,
        process_box(),
        secret,
        transaction_id=transaction_id,
        click_id=click_id,
        event=event,
        now_ns=ledger.clock.now_ns(),
        sent_before=False,
    )
    if done.outcome != adapter.ACCEPTED:
        raise RuntimeError(f"demo postback {transaction_id} was not accepted: {done.outcome}")
