"""Explaining a decision step by step agrees with the decision itself; a backtest's tally (per-rule hits,
precision, recall, money saved and wrongly held) is the arithmetic an operator expects."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from earnloop.risk.backtest import StoredEvent, Tally, replay, report
from earnloop.risk.explain import as_dict, explain
from earnloop.risk.rules import Rule, Strategy, Thresholds, compile_strategy, evaluate

FIELDS: dict[str, type] = {"amount": int, "clicks_1h": int, "emulator": bool}
STRATEGY = Strategy(
    "v7",
    (
        Rule("flood", "clicks_1h > 50", "block", 80),
        Rule("emulator", "emulator", "review", 30),
        Rule("big", "amount >= 10000", "allow", 40),
        Rule("ratio", "amount / clicks_1h > 100", "allow", 10),  # errs when clicks_1h == 0
    ),
    Thresholds(review_score=60, block_score=200),
)
COMPILED = compile_strategy(STRATEGY, FIELDS)


def test_explain_shows_each_rule_with_the_values_it_read() -> None:
    explained = explain(COMPILED, {"amount": 12_000, "clicks_1h": 3, "emulator": True})
    steps = {step.code: step for step in explained.steps}
    assert explained.fired == ("emulator", "big", "ratio")
    assert steps["emulator"].inputs == {"emulator": True}
    assert steps["ratio"].inputs == {"amount": 12_000, "clicks_1h": 3}
    assert (steps["big"].score_added, steps["flood"].score_added) == (40, 0)
    assert (explained.score, explained.threshold_outcome, explained.outcome) == (80, "review", "review")
    assert as_dict(explained)["steps"][1] == {
        "rule": "emulator",
        "expression": "emulator",
        "fired": True,
        "erred": False,
        "outcome": "review",
        "score_added": 30,
        "inputs": {"emulator": True},
    }


def test_explain_shows_a_rule_that_erred() -> None:
    explained = explain(COMPILED, {"amount": 5, "clicks_1h": 0, "emulator": False})
    erred = [step.code for step in explained.steps if step.erred]
    assert erred == ["ratio"]
    assert explained.outcome == "review"  # an erring rule fails safe


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 20_000), st.integers(0, 100), st.booleans())
def test_explain_agrees_with_the_decision(amount: int, clicks: int, emulator: bool) -> None:
    activation: dict[str, Any] = {"amount": amount, "clicks_1h": clicks, "emulator": emulator}
    decision = evaluate(COMPILED, dict(activation))
    explained = explain(COMPILED, activation)
    assert explained.outcome == decision.outcome
    assert explained.score == decision.score
    assert set(explained.fired) == {r for r in decision.reasons if r in {x.code for x in STRATEGY.rules}}


def _event(ref: str, bad: bool, amount: int, recorded: str = "allow", **values: Any) -> StoredEvent:
    activation = {"amount": amount, "clicks_1h": 1, "emulator": False} | values
    return StoredEvent(ref, activation, amount, "TWD", recorded, bad)


def test_a_backtest_tallies_what_the_strategy_would_have_done() -> None:
    events = [
        _event("a", True, 500, clicks_1h=90),  # bad, blocked: saved
        _event("b", True, 700, emulator=True),  # bad, held for review: saved
        _event("c", True, 900),  # bad, allowed: missed
        _event("d", False, 300, clicks_1h=60, recorded="deny"),  # good, blocked: wrongly held
        _event("e", False, 20_000),  # good, allowed (big + ratio fire, score 50 < 60)
    ]
    tally = replay(COMPILED, events)
    answer = report(STRATEGY, tally, seconds=0.5)
    assert answer["events"] == 5
    assert (answer["known_bad"], answer["caught"], answer["wrongly_held"]) == (3, 2, 1)
    assert answer["recall"] == round(2 / 3, 4)
    assert answer["precision"] == round(2 / 3, 4)
    assert answer["money_saved"] == {"TWD": 1_200}
    assert answer["money_wrongly_held"] == {"TWD": 300}
    assert answer["decisions_changed"] == 2  # a and b were allowed at the time; d stays denied
    flood = answer["rules"][0]
    assert flood == {
        "rule": "flood",
        "outcome": "block",
        "hits": 2,
        "bad_hits": 1,
        "precision": 0.5,
        "recall": round(1 / 3, 4),
    }


def test_tallies_of_shards_merge_into_the_tally_of_the_whole() -> None:
    events = [_event(str(n), n % 3 == 0, 100 + n, clicks_1h=n % 70) for n in range(300)]
    whole = replay(COMPILED, events)
    merged = replay(COMPILED, events[:120]).merge(replay(COMPILED, events[120:]))
    assert report(STRATEGY, merged, 1.0) == report(STRATEGY, whole, 1.0)
    assert Tally().merge(whole).events == 300
