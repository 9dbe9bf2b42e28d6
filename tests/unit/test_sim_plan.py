"""The simulator's plan is a function of its spec: the same seed plans the same steps (who, what, when,
labelled how), another seed another world; every step falls inside the simulated days, in time order,
and every attack type given attackers is planted."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnloop.sim import ATTACK_TYPES, HONEST, PopulationSpec, SpecError, plan
from earnloop.sim.world import DAY_NS, START_NS

SMALL = PopulationSpec(
    honest_users=15, games=3, merchants=2, partners=1, days=3, attackers=dict.fromkeys(ATTACK_TYPES, 1)
)


def _steps(spec: PopulationSpec) -> list[tuple[object, ...]]:
    """Each planned step as comparable data: when, labelled how, by whom, which call with which
    arguments."""
    steps: list[tuple[object, ...]] = []
    for s in plan(spec).steps:
        call = s.step if isinstance(s.step, partial) else partial(s.step)
        arguments = sorted((k, repr(v)) for k, v in call.keywords.items())
        steps.append((s.at_ns, s.label, s.actor, call.func.__qualname__, arguments))
    return steps


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**62),
    games=st.integers(min_value=2, max_value=4),
    merchants=st.integers(min_value=1, max_value=3),
    days=st.integers(min_value=3, max_value=6),
)
def test_the_same_spec_plans_the_same_steps_inside_the_days_in_time_order(
    seed: int, games: int, merchants: int, days: int
) -> None:
    spec = replace(SMALL, seed=seed, games=games, merchants=merchants, days=days)
    first = _steps(spec)
    assert first == _steps(spec)
    times = [step[0] for step in first]
    assert times == sorted(times)
    assert times[0] >= START_NS
    assert times[-1] < START_NS + spec.days * DAY_NS
    assert {step[1] for step in first} == {HONEST, *ATTACK_TYPES}


def test_another_seed_plans_another_world() -> None:
    assert _steps(replace(SMALL, seed=1)) != _steps(replace(SMALL, seed=2))


def test_an_attack_given_no_attackers_is_not_planted() -> None:
    spec = replace(SMALL, attackers={"device_farm": 2})
    assert {step[1] for step in _steps(spec)} == {HONEST, "device_farm"}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"honest_users": 0}, "honest_users"),
        ({"seed": -1}, "seed"),
        ({"days": 1000}, "days"),
        ({"games": 1}, "games"),
        ({"attackers": {"phishing": 1}}, "unknown attack type 'phishing'"),
        ({"attackers": {"device_farm": -1}}, "attackers[device_farm]"),
    ],
)
def test_a_spec_out_of_bounds_is_refused_naming_the_field(change: dict[str, object], named: str) -> None:
    with pytest.raises(SpecError, match=named.replace("[", r"\[")):
        replace(SMALL, **change).check()  # type: ignore[arg-type]
