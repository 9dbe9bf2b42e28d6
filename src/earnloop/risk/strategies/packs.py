"""Test packs and activations: an example's fields checked against the field catalogue and filled with
zero values, and a pack run against a compiled strategy (which examples miss their expected outcome)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from earnloop.risk.rules import CompiledStrategy, evaluate
from earnloop.risk.strategies.errors import PackFailure, StrategyError


@dataclass(frozen=True, slots=True)
class Example:
    label: str
    activation: dict[str, Any]  # as submitted: only the fields the example sets
    expected: str


def build_activation(fields: Mapping[str, type], values: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """Every field of the catalogue: ``values`` where given (each of its field's type; an int is taken
    for a float field), zero values elsewhere. A :class:`StrategyError` names ``where`` and the field."""
    activation = {name: kind() for name, kind in fields.items()}
    for name, value in values.items():
        kind = fields.get(name)
        if kind is None:
            raise StrategyError(f"{where}: unknown field {name!r} (fields: {', '.join(sorted(fields))})")
        if kind is float and type(value) is int:
            value = float(value)
        if type(value) is not kind:
            raise StrategyError(f"{where}.{name}: a {kind.__name__}, not {type(value).__name__}")
        activation[name] = value
    return activation


def run_pack(compiled: CompiledStrategy, examples: Sequence[Example], *, where: str) -> list[PackFailure]:
    """The examples whose outcome is not the expected one, in pack order."""
    failures = []
    for position, example in enumerate(examples):
        activation = build_activation(compiled.fields, example.activation, where=f"{where}.{position}")
        decision = evaluate(compiled, activation)
        if decision.outcome != example.expected:
            failures.append(
                PackFailure(position, example.label, example.expected, decision.outcome, decision.reasons)
            )
    return failures
