"""Explaining a decision: replay one event's stored activation against a strategy, step by step — every
rule in order, whether it fired or erred, the feature values it read, its outcome and the score it
added, then the thresholds on the summed score (issue 15).

Owns :func:`explain` and its answer types. Works on any compiled strategy and any activation, so the
same replay explains a stored decision (its own strategy version) or what a candidate would have done.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from earnloop.risk.rules import (
    OUTCOMES,
    SEVERITY,
    CompiledStrategy,
    Outcome,
    Thresholds,
    replayed,
    threshold_outcome,
)


@dataclass(frozen=True)
class Step:
    """One rule as the event met it."""

    code: str
    expression: str
    fired: bool
    erred: bool
    outcome: Outcome
    score_added: int
    inputs: dict[str, Any]  # the fields the rule reads, with the values the event had


@dataclass(frozen=True)
class Explanation:
    version: str
    steps: tuple[Step, ...]
    score: int
    thresholds: Thresholds
    threshold_outcome: Outcome
    outcome: Outcome

    @property
    def fired(self) -> tuple[str, ...]:
        return tuple(step.code for step in self.steps if step.fired)


def explain(compiled: CompiledStrategy, activation: Mapping[str, Any]) -> Explanation:
    """Each rule of ``compiled`` evaluated alone on ``activation`` (the same verdict as the whole-strategy
    program: the unit tests hold the two to agreeing), in rule order, and how the outcome follows."""
    activation = replayed(compiled, activation)  # a stored activation keeps only non-zero values
    steps = tuple(_step(compiled, index, activation) for index in range(len(compiled.strategy.rules)))
    score = sum(step.score_added for step in steps)
    severity = max(
        [SEVERITY[s.outcome] for s in steps if s.fired] + [SEVERITY["review"] for s in steps if s.erred] + [0]
    )
    by_threshold = threshold_outcome(compiled.strategy.thresholds, score)
    outcome = OUTCOMES[max(severity, SEVERITY[by_threshold])]
    return Explanation(
        compiled.strategy.version, steps, score, compiled.strategy.thresholds, by_threshold, outcome
    )


def _step(compiled: CompiledStrategy, index: int, activation: Mapping[str, Any]) -> Step:
    rule = compiled.strategy.rules[index]
    program = compiled.rule_programs[index]
    try:
        result = program.execute(dict(activation))
    except Exception:  # an erring rule is shown as such: it fails safe to review
        result = None
    erred = not isinstance(result, bool)
    fired = result is True
    inputs = {name: activation[name] for name in sorted(program.variables()) if name in activation}
    return Step(rule.code, rule.expression, fired, erred, rule.outcome, rule.score if fired else 0, inputs)


def as_dict(explanation: Explanation) -> dict[str, Any]:
    """The explanation as JSON-ready data (API answer, ``--json`` CLI output)."""
    return {
        "strategy_version": explanation.version,
        "outcome": explanation.outcome,
        "score": explanation.score,
        "thresholds": {
            "review_score": explanation.thresholds.review_score,
            "block_score": explanation.thresholds.block_score,
            "outcome": explanation.threshold_outcome,
        },
        "steps": [
            {
                "rule": step.code,
                "expression": step.expression,
                "fired": step.fired,
                "erred": step.erred,
                "outcome": step.outcome,
                "score_added": step.score_added,
                "inputs": step.inputs,
            }
            for step in explanation.steps
        ],
    }
