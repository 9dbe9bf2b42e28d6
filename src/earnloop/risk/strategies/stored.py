"""A stored version as the code sees it: its rules and thresholds from their JSON, turned into a
:class:`~earnloop.risk.rules.Strategy` and compiled against the field catalogue; and the reads every
other module shares (a version's row, its pack, a strategy's pointer row)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, select

from earnloop.risk.rules import CompiledStrategy, Rule, RuleError, Strategy, Thresholds, compile_strategy
from earnloop.risk.strategies.errors import RuleRefusedError, StrategyNotFoundError
from earnloop.risk.strategies.models import (
    risk_strategy_examples,
    risk_strategy_pointers,
    risk_strategy_versions,
)
from earnloop.risk.strategies.packs import Example


def label(name: str, version: int) -> str:
    """What decisions record as the strategy version: ``<name>-<version>``."""
    return f"{name}-{version}"


def rules_json(rules: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps([dict(rule) for rule in rules], sort_keys=True, separators=(",", ":"))


def strategy_of(
    name: str, version: int, rules: Sequence[Mapping[str, Any]], thresholds: Mapping[str, Any]
) -> Strategy:
    return Strategy(
        version=label(name, version),
        rules=tuple(
            Rule(str(r["code"]), str(r["expression"]), r["outcome"], int(r.get("score", 0))) for r in rules
        ),
        thresholds=Thresholds(thresholds.get("review_score"), thresholds.get("block_score")),
    )


def compile_checked(strategy: Strategy, fields: Mapping[str, type]) -> CompiledStrategy:
    """:func:`compile_strategy`, its :class:`RuleError` turned into a :class:`RuleRefusedError` that
    also names the rule's position among the strategy's rules."""
    try:
        return compile_strategy(strategy, fields)
    except RuleError as exc:
        raise RuleRefusedError(
            str(exc), code=exc.code, index=_rule_index(strategy, exc.code), line=exc.line, column=exc.column
        ) from exc


def _rule_index(strategy: Strategy, code: str) -> int | None:
    """The position of the rule ``code`` names: the last one with that code (a duplicate is the later
    one), ``None`` for the strategy as a whole."""
    positions = [index for index, rule in enumerate(strategy.rules) if rule.code == code]
    return positions[-1] if positions else None


def version_row(conn: Connection, name: str, version: int) -> Row[Any]:
    found = conn.execute(
        select(risk_strategy_versions).where(
            risk_strategy_versions.c.name == name, risk_strategy_versions.c.version == version
        )
    ).first()
    if found is None:
        raise StrategyNotFoundError(f"strategy {name!r} has no version {version}")
    return found


def compiled_version(
    conn: Connection, name: str, version: int, fields: Mapping[str, type]
) -> CompiledStrategy:
    """A stored version, compiled against ``fields``."""
    row = version_row(conn, name, version)
    strategy = strategy_of(name, version, json.loads(row.rules_json), json.loads(row.thresholds_json))
    return compile_checked(strategy, fields)


def pack_of(conn: Connection, version_id: int) -> list[Example]:
    rows = conn.execute(
        select(risk_strategy_examples)
        .where(risk_strategy_examples.c.version_id == version_id)
        .order_by(risk_strategy_examples.c.position)
    )
    return [Example(row.label, json.loads(row.activation_json), row.expected) for row in rows]


@dataclass(frozen=True, slots=True)
class Pointer:
    name: str
    live_version: int | None
    shadow_version: int | None
    generation: int
    latest_version: int


def pointer(conn: Connection, name: str) -> Pointer | None:
    row = conn.execute(select(risk_strategy_pointers).where(risk_strategy_pointers.c.name == name)).first()
    if row is None:
        return None
    return Pointer(row.name, row.live_version, row.shadow_version, int(row.generation), row.latest_version)
