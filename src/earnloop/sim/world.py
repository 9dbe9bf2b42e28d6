"""The simulated world: its catalog (game publishers, games with milestones, merchants with seller tax
ids) planned from the seed and written through the catalog service, and :class:`World`, the run-time
state the actors' steps share (accounts, clicks, carriers, payout destinations by name) while they call
the services through :mod:`earnloop.sim.adapter`."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import Connection

from earnloop.catalog import service as catalog
from earnloop.catalog.validation import valid_tax_id
from earnloop.einvoice.cipher import CodeCipher
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine
from earnloop.secretbox import SecretBox
from earnloop.sim import adapter
from earnloop.sim.adapter import Done, Origin, Receipt
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.withdrawals.service import Limits

NS_PER_S = 1_000_000_000
DAY_NS = 86_400 * NS_PER_S
START_NS = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp()) * NS_PER_S  # day 0 of every simulation
CATEGORIES = ("grocery", "travel", "food", "electronics", "fashion", "beauty")
WITHDRAWAL_MIN = Limits().min_amount


@dataclass(frozen=True)
class Milestone:
    key: str
    reward: int
    per_user_limit: int
    within_days: int


@dataclass(frozen=True)
class Game:
    """A simulated game: ``tutorial`` first, then (on some games) a repeatable ``daily``, then levels."""

    key: str
    publisher: str
    lock_period_days: int
    milestones: tuple[Milestone, ...]

    @property
    def daily(self) -> Milestone | None:
        return next((m for m in self.milestones if m.key == "daily"), None)

    @property
    def levels(self) -> tuple[Milestone, ...]:
        return tuple(m for m in self.milestones if m.key.startswith("lv"))


@dataclass(frozen=True)
class Merchant:
    key: str
    name: str
    category: str
    tax_id: str
    lock_period_days: int


@dataclass(frozen=True)
class Catalog:
    publishers: tuple[str, ...]
    games: tuple[Game, ...]
    merchants: tuple[Merchant, ...]


def plan_catalog(
    rng: random.Random, run: str, *, games: int, merchants: int, partners: int, days: int
) -> Catalog:
    """The catalog of a run (names carry the run, so that runs can share a database)."""
    publishers = tuple(f"Sim Publisher {run} {n + 1}" for n in range(partners))
    planned_games = []
    for n in range(games):
        milestones = [Milestone("tutorial", rng.choice((200, 300, 500)), 1, 7)]
        if n % 2 == 0:  # a repeatable daily quest, earned at most once a day by honest players
            milestones.append(Milestone("daily", 50, days + 1, days + 1))
        for level in range(1, rng.randint(2, 4) + 1):
            milestones.append(Milestone(f"lv{level * 5}", rng.choice((800, 1_500, 3_000)) * level, 1, 30))
        planned_games.append(
            Game(f"{run}-game-{n + 1}", publishers[n % partners], rng.randint(1, 2), tuple(milestones))
        )
    planned_merchants = tuple(
        Merchant(
            f"{run}-shop-{n + 1}",
            f"Sim Merchant {run} {n + 1}",
            CATEGORIES[n % len(CATEGORIES)],
            _tax_id(rng),
            rng.randint(1, 3),
        )
        for n in range(merchants)
    )
    return Catalog(publishers, tuple(planned_games), planned_merchants)


def _tax_id(rng: random.Random) -> str:
    while True:
        candidate = f"{rng.randrange(10**8):08d}"
        if valid_tax_id(candidate):
            return candidate


@dataclass
class World:
    """What the steps share while the run executes: the connection of the current batch, the ledger and
    the catalog's ids and secrets, and every actor's accounts, clicks, carriers and destinations."""

    ledger: LedgerService
    cipher: CodeCipher
    box: SecretBox
    risk: RiskEngine
    conn: Connection | None = None
    game_ids: dict[str, int] = field(default_factory=dict)
    game_secrets: dict[str, str] = field(default_factory=dict)
    merchant_ids: dict[str, int] = field(default_factory=dict)
    merchant_secrets: dict[str, str] = field(default_factory=dict)
    merchant_partners: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    clicks: dict[str, str] = field(default_factory=dict)
    carriers: dict[str, int] = field(default_factory=dict)
    destinations: dict[str, int] = field(default_factory=dict)
    accepted_transactions: set[str] = field(default_factory=set)

    @property
    def db(self) -> Connection:
        assert self.conn is not None, "a step runs inside a batch's transaction"
        return self.conn

    def now_ns(self) -> int:
        return self.ledger.clock.now_ns()

    def set_up(self, planned: Catalog) -> None:
        """Write the catalog through the catalog service and make every partner's postback secret."""
        conn, now_ns = self.db, self.now_ns()
        publisher_ids = {name: adapter.partner(conn, name, "game_publisher") for name in planned.publishers}
        for game in planned.games:
            created = catalog.upsert_game(conn, _game_entry(game, publisher_ids[game.publisher]))
            self.game_ids[game.key] = int(created["game_id"])
            self.game_secrets[game.key] = adapter.publisher_secret(
                conn, self.box, publisher_ids[game.publisher], now_ns
            )
        for merchant in planned.merchants:
            self.merchant_partners[merchant.key] = adapter.partner(conn, merchant.name, "merchant")
            entry = _merchant_entry(merchant, self.merchant_partners[merchant.key])
            merchant_id = int(catalog.upsert_merchant(conn, entry)["merchant_id"])
            self.merchant_ids[merchant.key] = merchant_id
            self.merchant_secrets[merchant.key] = adapter.merchant_secret(conn, self.box, merchant_id, now_ns)

    # -- the steps' calls (each returns what it did, to be labelled) ------------------------------------
    def sign_up(self, handle: str, origin: Origin) -> list[Done]:
        self.users[handle] = adapter.sign_up(self.db, handle, origin, self.now_ns())
        return [Done("signup", f"user:{self.users[handle]}", adapter.ACCEPTED)]

    def click_game(self, handle: str, game: str, origin: Origin, name: str) -> list[Done]:
        click_id, done = adapter.click_game(
            self.db, self.risk, self.users[handle], self.game_ids[game], origin, self.now_ns()
        )
        self.clicks[name] = click_id
        return [done]

    def postback(self, click: str, game: str, milestone: str, transaction_id: str) -> list[Done]:
        done = adapter.game_postback(
            self.db,
            self.ledger,
            self.risk,
            self.box,
            self.game_secrets[game],
            transaction_id=transaction_id,
            click_id=self.clicks[click],
            event=milestone,
            now_ns=self.now_ns(),
            sent_before=transaction_id in self.accepted_transactions,
        )
        if done.outcome == adapter.ACCEPTED:
            self.accepted_transactions.add(transaction_id)
        return [done]

    def click_merchant(self, handle: str, merchant: str, origin: Origin, name: str) -> list[Done]:
        merchant_id = self.merchant_ids[merchant]
        click_id, done = adapter.click_merchant(
            self.db, self.users[handle], merchant_id, origin, self.now_ns()
        )
        self.clicks[name] = click_id
        return [done]

    def report(self, click: str, merchant: Merchant, order_id: str, status: str, amount: int) -> list[Done]:
        return [
            adapter.merchant_report(
                self.db,
                self.ledger,
                self.risk,
                self.box,
                self.merchant_secrets[merchant.key],
                merchant_id=self.merchant_ids[merchant.key],
                order_id=order_id,
                click_id=self.clicks[click],
                status=status,
                order_amount=amount,
                category=merchant.category,
                now_ns=self.now_ns(),
            )
        ]

    def bind_carrier(self, handle: str, barcode: str) -> list[Done]:
        self.carriers[handle] = adapter.bind_carrier(
            self.db, self.cipher, self.users[handle], barcode, self.now_ns()
        )
        return [Done("carrier_bound", f"carrier:{self.carriers[handle]}", adapter.ACCEPTED)]

    def receipts(self, handle: str, day: date, found: list[Receipt]) -> list[Done]:
        return adapter.sync_receipts(self.db, self.ledger, self.risk, self.carriers[handle], day, found)

    def add_destination(self, handle: str, account_number: str, origin: Origin, name: str) -> list[Done]:
        destination_id, done = adapter.add_payout_destination(
            self.db, self.box, self.risk, self.users[handle], account_number, handle, origin, self.now_ns()
        )
        if destination_id is not None:  # refused by risk screening: there is nothing to withdraw to
            self.destinations[name] = destination_id
        return [done]

    def withdraw(self, handle: str, destination: str, share_bps: int, key: str, origin: Origin) -> list[Done]:
        """Withdraw ``share_bps`` of the available balance; nothing happens (and nothing is labelled)
        when that is below the minimum withdrawal: there is nothing to take."""
        user_id = self.users[handle]
        amount = adapter.available(self.db, self.ledger, user_id) * share_bps // 10_000
        if amount < WITHDRAWAL_MIN:
            return []
        destination_id = self.destinations.get(destination)
        if destination_id is None:
            return []
        return [
            adapter.withdraw(
                self.db,
                self.ledger,
                self.risk,
                self.box,
                user_id=user_id,
                destination_id=destination_id,
                amount=amount,
                idempotency_key=key,
                origin=origin,
            )
        ]

    def pay(self, handle: str, merchant: str, order_id: str, share_bps: int, origin: Origin) -> list[Done]:
        """Pay a merchant ``share_bps`` of the available balance (nothing, unlabelled, when that is 0)."""
        user_id = self.users[handle]
        amount = adapter.available(self.db, self.ledger, user_id) * share_bps // 10_000
        if amount < 1:
            return []
        return [
            adapter.pay_merchant(
                self.db,
                self.ledger,
                self.risk,
                merchant_partner_id=self.merchant_partners[merchant],
                merchant_order_id=order_id,
                user_id=user_id,
                amount=amount,
                idempotency_key=f"{order_id}-pay",
                origin=origin,
            )
        ]

    def confirm_due(self) -> list[Done]:
        """The worker's daily sweep: cashback past its lock period becomes available."""
        cashback.confirm_due(self.db, self.ledger, self.now_ns())
        return []


def _game_entry(game: Game, publisher_id: int) -> dict[str, object]:
    number = int(game.key.rsplit("-", 1)[1])
    return {
        "key": game.key,
        "title": game.key.replace("-", " ").title(),
        "platforms": ["ios", "android"],
        "app_store_id": f"{1_900_000_000 + number}",
        "play_package": f"dev.earnloop.sim.{game.key.replace('-', '')}",
        "tags": ["sim"],
        "tracking_provider": adapter.PROVIDER,
        "status": "active",
        "currency": adapter.CURRENCY,
        "publisher_id": publisher_id,
        "lock_period_days": game.lock_period_days,
        "milestones": [
            {
                "key": m.key,
                "title": m.key,
                "reward_amount": m.reward,
                "per_user_limit": m.per_user_limit,
                "within_days": m.within_days,
                "position": position,
            }
            for position, m in enumerate(game.milestones, start=1)
        ],
    }


def _merchant_entry(merchant: Merchant, partner_id: int) -> dict[str, object]:
    return {
        "key": merchant.key,
        "name": merchant.name,
        "partner_id": partner_id,
        "category": merchant.category,
        "tracking_template": f"https://{merchant.key}.example/r?click_id={{click_id}}",
        "tax_ids": [merchant.tax_id],
        "rates": {merchant.category: 300, "default": 100},
        "lock_period_days": merchant.lock_period_days,
    }
