"""The recommendation model: nothing the user tried comes back, similar players' items come first with
the tried item that explains them, a newcomer gets the most popular, rare pairs count for less, and the
same input always gives the same list; the offline evaluation is reproducible and beats popular."""

from __future__ import annotations

import random

import pytest

from earnloop.recs.evaluate import WorldSpec, evaluate
from earnloop.recs.model import GAME, MERCHANT, POPULAR, SIMILAR, Candidate, Interaction, Item, build, rank

A, B, C, D, E = (Item(GAME, n) for n in range(1, 6))
SHOP = Item(MERCHANT, 1)


def catalog(*items: Item, value: int = 100) -> list[Candidate]:
    return [Candidate(i, f"{i.kind} {i.id}", value, "TWD") for i in items]


def played(user_id: int, *items: Item) -> list[Interaction]:
    return [Interaction(user_id, item, 1_000 + n) for n, item in enumerate(items)]


def test_a_player_of_a_gets_what_other_a_players_played_because_of_a() -> None:
    log = played(1, A, B) + played(2, A, B) + played(3, C, D) + played(4, C, D) + played(5, C, D)
    model = build(log)
    top = rank(model, catalog(A, B, C, D), {A}, 3)
    assert [s.candidate.item for s in top] == [B, C, D]
    assert (top[0].reason, top[0].because) == (SIMILAR, A)
    assert [(s.reason, s.because) for s in top[1:]] == [(POPULAR, None), (POPULAR, None)]


def test_items_the_user_tried_are_never_recommended() -> None:
    log = played(1, A, B, C, SHOP) + played(2, A, B, D) + played(3, B, C, E)
    model = build(log)
    for history in ({A}, {A, B}, {A, B, C, SHOP}, {B, E}):
        listed = {s.candidate.item for s in rank(model, catalog(A, B, C, D, E, SHOP), history, 10)}
        assert not listed & history
        assert listed == {A, B, C, D, E, SHOP} - history


def test_the_item_contributing_most_is_the_reason() -> None:
    # D is played with A once and with B by every B player: B explains D better than A
    log = played(1, A, D) + played(2, A, C) + played(3, A, C) + played(4, B, D) + played(5, B, D)
    top = rank(build(log), catalog(A, B, C, D), {A, B}, 2)
    assert [(s.candidate.item, s.because) for s in top] == [(D, B), (C, A)]


def test_a_newcomer_gets_the_most_popular_with_the_popular_reason() -> None:
    log = played(1, A, B, C) + played(2, B, C) + played(3, C)
    top = rank(build(log), catalog(A, B, C, D), set(), 10)
    assert [s.candidate.item for s in top] == [C, B, A, D]
    assert {(s.reason, s.because) for s in top} == {(POPULAR, None)}


def test_a_pair_seen_by_few_players_counts_less_than_a_well_supported_one() -> None:
    # plain cosine ties B (1 of 1 player, with 4 A players) and C (2 of 4 players): shrinkage prefers C
    log = played(1, A, B) + played(2, A, C) + played(3, A, C) + played(4, A) + played(5, C) + played(6, C)
    top = rank(build(log), catalog(A, B, C), {A}, 2, reward_weight=0.0)
    assert [s.candidate.item for s in top] == [C, B]


def test_the_expected_reward_breaks_equal_affinity_and_its_weight_is_bounded() -> None:
    log = played(1, A, B, C) + played(2, A, B, C)
    candidates = [Candidate(A, "a", 100, "TWD"), Candidate(B, "b", 100, "TWD"), Candidate(C, "c", 900, "TWD")]
    assert [s.candidate.item for s in rank(build(log), candidates, {A}, 2)] == [C, B]
    assert [s.candidate.item for s in rank(build(log), candidates, {A}, 2, reward_weight=0.0)] == [B, C]
    with pytest.raises(ValueError, match="reward_weight"):
        rank(build(log), candidates, {A}, 2, reward_weight=1.5)


def test_ties_are_ordered_by_item_and_the_input_order_does_not_matter() -> None:
    log = played(1, A, E, D, C) + played(2, A, SHOP, B) + played(3, SHOP, C, B, E)
    items = [A, B, C, D, E, SHOP]
    first = rank(build(log), catalog(*items), {A}, 10)
    for seed in range(5):
        shuffled_log, shuffled_items = list(log), list(items)
        random.Random(seed).shuffle(shuffled_log)
        random.Random(seed).shuffle(shuffled_items)
        again = rank(build(shuffled_log), catalog(*shuffled_items), {A}, 10)
        assert [(s.candidate.item, s.because, s.score) for s in again] == [
            (s.candidate.item, s.because, s.score) for s in first
        ]
    equal = rank(build(played(1, A, C, B)), catalog(A, B, C), {A}, 2)
    assert [s.candidate.item for s in equal] == [B, C]


def test_the_offline_evaluation_is_reproducible_and_co_occurrence_beats_popular() -> None:
    spec = WorldSpec(seed=7, users=300)
    first, again = evaluate(spec), evaluate(spec)
    assert first == again
    assert first.cooccurrence["users"] == first.popular["users"] > 100
    assert first.beats_popular
    assert first.lift > 0
    with pytest.raises(ValueError, match="users"):
        WorldSpec(users=1).check()
