"""The recommendations' public API: ``recommend(conn, user_id, k)`` — the model built from every
user's recorded interactions, the candidates from the catalog (active games with their milestone
rewards, merchants with their cashback rate), ranked by :func:`earnloop.recs.model.rank`.

Takes the caller's connection, reads only, never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from earnloop.catalog import service as catalog
from earnloop.recs import interactions
from earnloop.recs.model import (
    DEFAULT_REWARD_WEIGHT,
    GAME,
    MERCHANT,
    POPULAR,
    SIMILAR,
    Candidate,
    Item,
    build,
    rank,
)

__all__ = ["POPULAR", "SIMILAR", "Recommendation", "candidates", "recommend"]
K_MAX = 50
DEFAULT_RATE_CATEGORY = "default"


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One item to explore: ``kind`` ``game`` | ``merchant``; ``reward`` is a game's milestone total in
    minor units of ``currency``, ``rate_bps`` a merchant's cashback rate; ``reason`` ``similar`` (with
    ``because``/``because_name``: the user's item that contributed most) or ``popular``."""

    kind: str
    item_id: int
    name: str
    currency: str
    reward: int | None
    rate_bps: int | None
    reason: str
    because: Item | None
    because_name: str | None
    score: float


def _merchant_rate(merchant: dict[str, Any]) -> int:
    """The headline rate: the merchant's own category, else its default, else its best."""
    rates: dict[str, int] = merchant["rates"]
    for category in (merchant["category"], DEFAULT_RATE_CATEGORY):
        if category in rates:
            return rates[category]
    return max(rates.values(), default=0)


def candidates(conn: Connection) -> list[Candidate]:
    """Every active game (value: the sum of its milestones' rewards) and every merchant (value: its
    cashback rate in basis points)."""
    found = [
        Candidate(
            Item(GAME, g["game_id"]),
            g["title"],
            sum(m["reward_amount"] for m in g["milestones"]),
            g["currency"],
        )
        for g in catalog.list_games(conn, status="active")
    ]
    found += [
        Candidate(Item(MERCHANT, m["merchant_id"]), m["name"], _merchant_rate(m), m["currency"])
        for m in catalog.list_merchants(conn)
    ]
    return found


def _name(conn: Connection, item: Item, known: dict[Item, str]) -> str:
    """An item's name: a candidate's, else the catalog's (a tried game may be retired since)."""
    if item in known:
        return known[item]
    if item.kind == GAME:
        return str(catalog.get_game(conn, item.id)["title"])
    return str(catalog.get_merchant(conn, item.id)["name"])


def recommend(
    conn: Connection, user_id: int, k: int = 10, *, reward_weight: float = DEFAULT_REWARD_WEIGHT
) -> list[Recommendation]:
    """Up to ``k`` (1..50) games and merchants ``user_id`` has not tried, best first."""
    if not 1 <= k <= K_MAX:
        raise ValueError(f"k must be between 1 and {K_MAX}")
    model = build(interactions.from_database(conn))
    history = model.tried.get(user_id, set())
    found = candidates(conn)
    ranked = rank(model, found, history, k, reward_weight=reward_weight)
    names = {c.item: c.name for c in found}
    return [
        Recommendation(
            kind=s.candidate.item.kind,
            item_id=s.candidate.item.id,
            name=s.candidate.name,
            currency=s.candidate.currency,
            reward=s.candidate.value if s.candidate.item.kind == GAME else None,
            rate_bps=s.candidate.value if s.candidate.item.kind == MERCHANT else None,
            reason=s.reason,
            because=s.because,
            because_name=_name(conn, s.because, names) if s.because else None,
            score=s.score,
        )
        for s in ranked
    ]
