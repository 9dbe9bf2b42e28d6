"""Offline evaluation of the recommendations on simulated activity with a known generating process.

**The world** (deterministic from the seed): games and merchants spread over genres, each with an
expected reward and an appeal (a Zipf-like popularity, a little higher for a bigger reward). **The
players**: each has a main genre and, for half of them, a second one (taste weights 0.7 / 0.2, the rest
spread over every genre), joins in one of the first months and each month tries up to three items it
has not tried: a genre drawn from its taste, then an item of that genre drawn by appeal.

**The test**: the last month is held out. The model is built from the earlier months (the same
:func:`~earnloop.recs.model.build` and :func:`~earnloop.recs.model.rank` production uses, with the
same reward weight); for every player who tried something new in the held-out month, the top 10 of
co-occurrence and of "most popular" (both without the items already tried) are scored: hit-rate@10
(at least one held-out item in the list), recall@10 (the share of held-out items found) and coverage
(the share of the catalog recommended to anyone).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from earnloop.recs.model import (
    DEFAULT_REWARD_WEIGHT,
    GAME,
    MERCHANT,
    Candidate,
    CoOccurrence,
    Interaction,
    Item,
    Scored,
    build,
    popular,
    rank,
)

DAY_NS = 86_400 * 10**9
MONTH_NS = 30 * DAY_NS
START_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
USERS_MIN, USERS_MAX = 20, 100_000
SEED_MAX = 2**32 - 1
K = 10


@dataclass(frozen=True, slots=True)
class WorldSpec:
    """The simulated population: its seed, size and catalog."""

    seed: int = 16
    users: int = 2_000
    games: int = 80
    merchants: int = 40
    genres: int = 8
    months: int = 6

    def check(self) -> WorldSpec:
        if not USERS_MIN <= self.users <= USERS_MAX:
            raise ValueError(f"users must be between {USERS_MIN} and {USERS_MAX}")
        if not 0 <= self.seed <= SEED_MAX:
            raise ValueError(f"seed must be between 0 and {SEED_MAX}")
        return self


@dataclass(frozen=True, slots=True)
class World:
    """The catalog (candidates), each item's genre and appeal, and the activity log."""

    candidates: list[Candidate]
    genre: dict[Item, int]
    appeal: dict[Item, float]
    log: list[Interaction]


def _catalog(spec: WorldSpec, rng: random.Random) -> list[Candidate]:
    games = [
        Candidate(Item(GAME, n), f"Game {n}", rng.randint(2, 40) * 50, "TWD")
        for n in range(1, spec.games + 1)
    ]
    rates = (100, 150, 200, 300, 500, 800)
    merchants = [
        Candidate(Item(MERCHANT, n), f"Store {n}", rng.choice(rates), "TWD")
        for n in range(1, spec.merchants + 1)
    ]
    return games + merchants


def _appeal(candidates: list[Candidate], rng: random.Random) -> dict[Item, float]:
    """A Zipf-like appeal in a shuffled order, raised by up to 50 % for the largest reward of the kind."""
    order = list(candidates)
    rng.shuffle(order)
    top = {kind: max(c.value for c in candidates if c.item.kind == kind) for kind in (GAME, MERCHANT)}
    return {
        c.item: (1 / (rank + 1) ** 0.8) * (1 + 0.5 * c.value / top[c.item.kind])
        for rank, c in enumerate(order)
    }


def _taste(spec: WorldSpec, rng: random.Random) -> list[float]:
    weights = [0.1 / spec.genres] * spec.genres
    main = rng.randrange(spec.genres)
    weights[main] += 0.7
    second = rng.randrange(spec.genres) if rng.random() < 0.5 else main
    weights[second] += 0.2
    return weights


def _user_log(
    user_id: int, spec: WorldSpec, world: World, by_genre: list[list[Item]], rng: random.Random
) -> list[Interaction]:
    taste = _taste(spec, rng)
    tried: set[Item] = set()
    log = []
    for month in range(rng.randrange(spec.months - 1), spec.months):
        for _ in range(rng.randint(0, 3)):
            (genre,) = rng.choices(range(spec.genres), weights=taste)
            pool = [i for i in by_genre[genre] if i not in tried]
            if not pool:
                continue
            (item,) = rng.choices(pool, weights=[world.appeal[i] for i in pool])
            tried.add(item)
            at_ns = START_NS + month * MONTH_NS + rng.randrange(MONTH_NS)
            log.append(Interaction(user_id, item, at_ns, "click"))
    return log


def simulate(spec: WorldSpec) -> World:
    """The world and its activity log, the same for the same spec."""
    rng = random.Random(spec.seed)
    candidates = _catalog(spec, rng)
    genre = {c.item: n % spec.genres for n, c in enumerate(candidates)}
    world = World(candidates, genre, _appeal(candidates, rng), [])
    by_genre: list[list[Item]] = [
        [c.item for c in candidates if genre[c.item] == g] for g in range(spec.genres)
    ]
    for user_id in range(1, spec.users + 1):
        world.log.extend(_user_log(user_id, spec, world, by_genre, rng))
    world.log.sort(key=lambda e: (e.at_ns, e.user_id, e.item))
    return world


@dataclass(slots=True)
class Metrics:
    """One method's scores over the evaluated players."""

    users: int = 0
    hits: int = 0
    recall_sum: float = 0.0
    shown: set[Item] = field(default_factory=set)

    def add(self, listed: list[Scored], held: set[Item]) -> None:
        found = {s.candidate.item for s in listed} & held
        self.users += 1
        self.hits += bool(found)
        self.recall_sum += len(found) / len(held)
        self.shown.update(s.candidate.item for s in listed)

    def summary(self, catalog_size: int) -> dict[str, float | int]:
        users = max(self.users, 1)
        return {
            "users": self.users,
            "hit_rate_at_10": round(self.hits / users, 4),
            "recall_at_10": round(self.recall_sum / users, 4),
            "coverage": round(len(self.shown) / max(catalog_size, 1), 4),
        }


@dataclass(frozen=True, slots=True)
class Evaluation:
    spec: WorldSpec
    interactions: int
    cooccurrence: dict[str, float | int]
    popular: dict[str, float | int]

    @property
    def lift(self) -> float:
        """Co-occurrence's hit-rate over popular's, minus 1 (0.25 = 25 % more hits)."""
        base = float(self.popular["hit_rate_at_10"])
        return round(float(self.cooccurrence["hit_rate_at_10"]) / base - 1, 4) if base else float("inf")

    @property
    def beats_popular(self) -> bool:
        return self.cooccurrence["hit_rate_at_10"] > self.popular["hit_rate_at_10"]


def _held_out(log: list[Interaction], split_ns: int, model: CoOccurrence) -> dict[int, set[Item]]:
    """Per player, the items first tried in the held-out month."""
    held: dict[int, set[Item]] = {}
    for event in log:
        if event.at_ns >= split_ns and event.item not in model.tried.get(event.user_id, set()):
            held.setdefault(event.user_id, set()).add(event.item)
    return held


def evaluate(spec: WorldSpec, *, reward_weight: float = DEFAULT_REWARD_WEIGHT) -> Evaluation:
    """Simulate ``spec``, hold out its last month and score both methods on it."""
    world = simulate(spec.check())
    split_ns = START_NS + (spec.months - 1) * MONTH_NS
    model = build(e for e in world.log if e.at_ns < split_ns)
    co, pop = Metrics(), Metrics()
    for user_id, held in sorted(_held_out(world.log, split_ns, model).items()):
        history = model.tried.get(user_id, set())
        co.add(rank(model, world.candidates, history, K, reward_weight=reward_weight), held)
        pop.add(popular(model, world.candidates, history, K), held)
    size = len(world.candidates)
    return Evaluation(spec, len(world.log), co.summary(size), pop.summary(size))
