"""A small earn history for the recommendation tests, made through the domain services (the simulator's
adapter: clicks on game and store links, signed milestone postbacks, signed purchase reports): three
games and two stores; the players of Dragon also play Puzzle, the shoppers of Gadgets also shop at Books."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.fernet import Fernet
from sqlalchemy import Connection

from earnloop.auth.service import create_user
from earnloop.catalog import service as catalog
from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine
from earnloop.secretbox import SecretBox
from earnloop.sim import adapter

ORIGIN = adapter.Origin(device="dev-recs", ip="198.51.100.20", user_agent="Mozilla/5.0 (Linux; Android 14)")


@dataclass
class Shop:
    """Ids of the catalog and of the players, by name."""

    games: dict[str, int] = field(default_factory=dict)
    merchants: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)


def _game(conn: Connection, key: str, title: str, rewards: list[int], publisher_id: int, status: str) -> int:
    milestones = [
        {"key": f"m{n}", "title": f"Milestone {n}", "reward_amount": amount, "position": n}
        for n, amount in enumerate(rewards, start=1)
    ]
    spec = {
        "key": key,
        "title": title,
        "platforms": ["android"],
        "play_package": f"com.example.{key}",
        "tracking_provider": "earnloop",
        "tags": ["casual"],
        "status": status,
        "currency": "TWD",
        "publisher_id": publisher_id,
        "milestones": milestones,
    }
    return int(catalog.upsert_game(conn, spec)["game_id"])


def _merchant(conn: Connection, key: str, name: str, rates: dict[str, int]) -> int:
    spec = {
        "key": key,
        "partner_id": adapter.partner(conn, f"{key}-partner", "merchant"),
        "name": name,
        "category": "electronics",
        "tracking_template": f"https://{key}.example/?c={{click_id}}",
        "rates": rates,
    }
    return int(catalog.upsert_merchant(conn, spec)["merchant_id"])


def make_catalog(conn: Connection) -> Shop:
    publisher = adapter.partner(conn, "recs-studio", "game_publisher")
    shop = Shop()
    shop.games["dragon"] = _game(conn, "dragon", "Dragon Quest-ish", [100, 300], publisher, "active")
    shop.games["puzzle"] = _game(conn, "puzzle", "Puzzle Garden", [200, 250], publisher, "active")
    shop.games["racer"] = _game(conn, "racer", "Street Racer", [150], publisher, "active")
    shop.games["retired"] = _game(conn, "retired", "Old Arcade", [900], publisher, "retired")
    shop.merchants["gadgets"] = _merchant(conn, "gadgets", "Gadgets", {"electronics": 250, "default": 100})
    shop.merchants["books"] = _merchant(conn, "books", "Books & Co", {"default": 400})
    return shop


@dataclass
class Actions:
    """What players do, through the services, in one unit of work."""

    conn: Connection
    ledger: LedgerService
    risk: RiskEngine
    box: SecretBox
    shop: Shop
    now_ns: int
    seq: int = 0

    def _next(self) -> int:
        self.seq += 1
        self.now_ns += 10**9
        return self.seq

    def play(self, user_id: int, game: str, *, milestone: str | None = None) -> None:
        click_id, _ = adapter.click_game(
            self.conn, self.risk, user_id, self.shop.games[game], ORIGIN, self.now_ns
        )
        if milestone is not None:
            secret = adapter.publisher_secret(self.conn, self.box, self._publisher(), self.now_ns)
            done = adapter.game_postback(
                self.conn,
                self.ledger,
                self.risk,
                self.box,
                secret,
                transaction_id=f"txn-{self._next()}",
                click_id=click_id,
                event=milestone,
                now_ns=self.now_ns,
                sent_before=False,
            )
            assert done.outcome == adapter.ACCEPTED, done

    def shop_at(self, user_id: int, merchant: str, *, buy: int | None = None) -> None:
        merchant_id = self.shop.merchants[merchant]
        click_id, _ = adapter.click_merchant(self.conn, user_id, merchant_id, ORIGIN, self.now_ns)
        if buy is not None:
            secret = adapter.merchant_secret(self.conn, self.box, merchant_id, self.now_ns)
            done = adapter.merchant_report(
                self.conn,
                self.ledger,
                self.risk,
                self.box,
                secret,
                merchant_id=merchant_id,
                order_id=f"order-{self._next()}",
                click_id=click_id,
                status="pending",
                order_amount=buy,
                category="electronics",
                now_ns=self.now_ns,
            )
            assert done.outcome == adapter.ACCEPTED, done

    def _publisher(self) -> int:
        return int(catalog.get_game(self.conn, self.shop.games["dragon"])["publisher_id"])


def make_history(db: Database, ledger: LedgerService, risk: RiskEngine) -> Shop:
    """Dragon players also play Puzzle (one reaches a milestone); Gadgets shoppers also buy at Books;
    Racer is played by the most players of all; ``fan`` has played Dragon only; ``newcomer`` nothing."""
    box = SecretBox([Fernet.generate_key()])
    with db.uow() as conn:
        shop = make_catalog(conn)
        for handle in ("p1", "p2", "p3", "r1", "r2", "r3", "r4", "s1", "s2", "fan", "newcomer"):
            shop.users[handle] = create_user(conn, f"recs-{handle}").id
        act = Actions(conn, ledger, risk, box, shop, ledger.clock.now_ns())
        u = shop.users
        act.play(u["p1"], "dragon", milestone="m1")
        act.play(u["p1"], "puzzle")
        act.play(u["p2"], "dragon")
        act.play(u["p2"], "puzzle", milestone="m1")
        act.play(u["p3"], "dragon")
        act.play(u["p3"], "puzzle")
        for handle in ("r1", "r2", "r3", "r4"):
            act.play(u[handle], "racer")
        act.shop_at(u["s1"], "gadgets", buy=10_000)
        act.shop_at(u["s1"], "books", buy=5_000)
        act.shop_at(u["s2"], "gadgets")
        act.shop_at(u["s2"], "books")
        act.play(u["fan"], "dragon")
    return shop
