"""The recommendation model, free of any database: interactions (user → item, when), the item-item
co-occurrence model built from them, and the ranking of a user's untried candidates.

Similarity is the cosine of two items' sets of users with a shrinkage term (``sim(i, j) = c_ij /
(sqrt(n_i · n_j) + shrink)``: a pair seen by few users counts for less). A candidate's affinity for a
user is the sum of its similarities to the items the user tried; its ``because`` is the tried item that
contributed most. The final score blends affinity with the expected reward (both scaled to 0..1 over
the candidates; rewards are compared within their kind — a game's milestone total in minor units, a
merchant's cashback rate in basis points): ``(1 - reward_weight) · affinity + reward_weight · reward``.
A user with no history, or too few similar candidates, gets the most popular untried items.
Every ordering breaks ties by the item (kind, id), so the same input gives the same list.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations
from typing import NamedTuple

GAME, MERCHANT = "game", "merchant"
SIMILAR, POPULAR = "similar", "popular"
DEFAULT_SHRINK = 3.0
# How much the expected reward weighs against co-occurrence affinity (0: affinity only, 1: reward only).
DEFAULT_REWARD_WEIGHT = 0.2


class Item(NamedTuple):
    """A game or a merchant: (``kind``, ``id``); ordered by kind then id."""

    kind: str
    id: int


@dataclass(frozen=True, slots=True)
class Interaction:
    """A user tried an item at ``at_ns``: ``action`` is ``click``, ``milestone`` or ``purchase``."""

    user_id: int
    item: Item
    at_ns: int
    action: str = "click"


@dataclass(frozen=True, slots=True)
class Candidate:
    """An item that may be recommended, with its expected reward: ``value`` is a game's milestone
    total (minor units of ``currency``) or a merchant's cashback rate (basis points)."""

    item: Item
    name: str
    value: int
    currency: str


@dataclass(frozen=True, slots=True)
class Scored:
    """A ranked candidate: its blended score, its reason (``similar`` | ``popular``) and ``because``
    (the user's tried item that contributed most; ``None`` for popular items)."""

    candidate: Candidate
    score: float
    reason: str
    because: Item | None


@dataclass(slots=True)
class CoOccurrence:
    """Who tried what, item popularity (distinct users) and pairwise co-counts."""

    tried: dict[int, set[Item]] = field(default_factory=dict)
    users_of: Counter[Item] = field(default_factory=Counter)
    co: dict[Item, Counter[Item]] = field(default_factory=lambda: defaultdict(Counter))
    shrink: float = DEFAULT_SHRINK

    def similarity(self, a: Item, b: Item) -> float:
        count = self.co[a][b] if a in self.co else 0
        if count == 0:
            return 0.0
        return count / (math.sqrt(self.users_of[a] * self.users_of[b]) + self.shrink)


def build(interactions: Iterable[Interaction], *, shrink: float = DEFAULT_SHRINK) -> CoOccurrence:
    """The model of a list of interactions (repeats of a user's item count once)."""
    model = CoOccurrence(shrink=shrink)
    for event in interactions:
        model.tried.setdefault(event.user_id, set()).add(event.item)
    for items in model.tried.values():
        model.users_of.update(items)
        for a, b in combinations(sorted(items), 2):
            model.co[a][b] += 1
            model.co[b][a] += 1
    return model


def _affinities(
    model: CoOccurrence, history: set[Item], untried: list[Candidate]
) -> dict[Item, tuple[float, Item]]:
    """Each candidate similar to the history: (summed similarity, the tried item contributing most —
    on a tie, the first in item order)."""
    wanted = {c.item for c in untried}
    sums: dict[Item, float] = defaultdict(float)
    best: dict[Item, tuple[float, Item]] = {}
    for tried in sorted(history):
        for other in model.co.get(tried, {}):
            if other not in wanted:
                continue
            sim = model.similarity(tried, other)
            sums[other] += sim
            if other not in best or sim > best[other][0]:
                best[other] = (sim, tried)
    return {item: (total, best[item][1]) for item, total in sums.items()}


def _reward_scale(candidates: list[Candidate]) -> dict[Item, float]:
    """Each candidate's expected reward as a share of the largest of its kind (0..1)."""
    top: dict[str, int] = {}
    for c in candidates:
        top[c.item.kind] = max(top.get(c.item.kind, 0), c.value)
    return {c.item: (c.value / top[c.item.kind] if top[c.item.kind] > 0 else 0.0) for c in candidates}


def popular(model: CoOccurrence, candidates: list[Candidate], history: set[Item], k: int) -> list[Scored]:
    """The ``k`` most popular candidates not in ``history`` (ties: the larger reward, then the item)."""
    scale = _reward_scale(candidates)
    untried = [c for c in candidates if c.item not in history]
    untried.sort(key=lambda c: (-model.users_of[c.item], -scale[c.item], c.item))
    return [Scored(c, float(model.users_of[c.item]), POPULAR, None) for c in untried[:k]]


def rank(
    model: CoOccurrence,
    candidates: list[Candidate],
    history: set[Item],
    k: int = 10,
    *,
    reward_weight: float = DEFAULT_REWARD_WEIGHT,
) -> list[Scored]:
    """The user's top ``k``: untried candidates similar to ``history`` by blended score, then the most
    popular of the rest."""
    if not 0.0 <= reward_weight <= 1.0:
        raise ValueError("reward_weight must be between 0 and 1")
    if k < 0:
        raise ValueError("k must not be negative")
    untried = [c for c in candidates if c.item not in history]
    affinity = _affinities(model, history, untried)
    scale = _reward_scale(untried)
    top = max((total for total, _ in affinity.values()), default=0.0)
    similar = []
    for c in untried:
        if c.item in affinity and top > 0:
            total, because = affinity[c.item]
            score = (1 - reward_weight) * total / top + reward_weight * scale[c.item]
            similar.append(Scored(c, score, SIMILAR, because))
    similar.sort(key=lambda s: (-s.score, s.candidate.item))
    chosen = similar[:k]
    taken = history | {s.candidate.item for s in chosen}
    return chosen + popular(model, candidates, taken, k - len(chosen))
