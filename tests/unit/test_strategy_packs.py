"""Test packs (ADR 0025), as properties: a pack recording a strategy's own outcomes always passes, and
changing any one expected outcome makes exactly that example fail, named with what it got."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from earnloop.risk.fields import catalogue
from earnloop.risk.rules import Rule, Strategy, Thresholds, compile_strategy, evaluate
from earnloop.risk.strategies.packs import Example, build_activation, run_pack

COMPILED = compile_strategy(
    Strategy(
        "packs-1",
        (
            Rule("fast_install", "click_to_event_s < 5", "block", 50),
            Rule("big_amount", "amount >= 50000", "review", 30),
            Rule("foreign", 'currency != "TWD" && currency != ""', "allow", 30),
        ),
        Thresholds(review_score=60, block_score=100),
    ),
    catalogue(),
)
ACTIVATIONS = st.fixed_dictionaries(
    {},
    optional={
        "amount": st.integers(0, 100_000),
        "click_to_event_s": st.integers(0, 30),
        "currency": st.sampled_from(["TWD", "USD", ""]),
        "kind": st.sampled_from(["install", "milestone"]),
    },
)
OUTCOMES = ("allow", "review", "block")


def _outcome(activation: dict[str, object]) -> str:
    return evaluate(COMPILED, build_activation(catalogue(), activation, where="t")).outcome


@settings(max_examples=60, deadline=None)
@given(activations=st.lists(ACTIVATIONS, min_size=1, max_size=8), data=st.data())
def test_a_pack_of_the_strategys_own_outcomes_passes_and_one_change_fails_alone(
    activations: list[dict[str, object]], data: st.DataObject
) -> None:
    pack = [Example(f"e{i}", a, _outcome(a)) for i, a in enumerate(activations)]
    assert run_pack(COMPILED, pack, where="test_pack") == []
    changed = data.draw(st.integers(0, len(pack) - 1))
    other = data.draw(st.sampled_from([o for o in OUTCOMES if o != pack[changed].expected]))
    pack[changed] = Example(pack[changed].label, pack[changed].activation, other)
    failures = run_pack(COMPILED, pack, where="test_pack")
    assert [(f.position, f.expected, f.got) for f in failures] == [
        (changed, other, _outcome(activations[changed]))
    ]
