"""Reading strategies: the strategies and their pointers, a strategy's versions, one version with its
rules and test pack, and the diff of the rules of two versions. Read-only."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Row, func, select

from earnloop.risk.strategies.errors import StrategyNotFoundError
from earnloop.risk.strategies.models import (
    risk_strategy_examples,
    risk_strategy_pointers,
    risk_strategy_versions,
)
from earnloop.risk.strategies.schemas import (
    DiffOut,
    ExampleIn,
    RuleChange,
    RuleIn,
    StrategyOut,
    ThresholdsIn,
    VersionDetail,
    VersionOut,
    at,
)
from earnloop.risk.strategies.stored import label, pack_of, pointer, version_row

LIST_MAX = 1_000


def version_out(row: Row[Any], examples: int | None) -> VersionOut:
    """A version's summary from its row (``examples``: its pack's size, counted when ``None``)."""
    return VersionOut(
        name=row.name,
        version=row.version,
        label=label(row.name, row.version),
        status=row.status,
        changelog=row.changelog,
        author=row.author,
        created_at=at(row.created_at_ns),
        approver=row.approver,
        approved_at=at(row.approved_at_ns) if row.approved_at_ns is not None else None,
        self_approved=bool(row.self_approved),
        backtest=json.loads(row.backtest_json) if row.backtest_json else None,
        examples=-1 if examples is None else examples,
    )


def _pack_sizes(conn: Connection, version_ids: list[int]) -> dict[int, int]:
    examples = risk_strategy_examples.c
    statement = (
        select(examples.version_id, func.count())
        .where(examples.version_id.in_(version_ids))
        .group_by(examples.version_id)
    )
    return {int(version_id): int(count) for version_id, count in conn.execute(statement)}


def strategies(conn: Connection) -> list[StrategyOut]:
    rows = conn.execute(
        select(risk_strategy_pointers).order_by(risk_strategy_pointers.c.name).limit(LIST_MAX)
    )
    return [
        StrategyOut(
            name=row.name,
            live_version=row.live_version,
            shadow_version=row.shadow_version,
            generation=row.generation,
            latest_version=row.latest_version,
        )
        for row in rows
    ]


def strategy(conn: Connection, name: str) -> StrategyOut:
    found = pointer(conn, name)
    if found is None:
        raise StrategyNotFoundError(f"no strategy {name!r}")
    return StrategyOut(
        name=found.name,
        live_version=found.live_version,
        shadow_version=found.shadow_version,
        generation=found.generation,
        latest_version=found.latest_version,
    )


def versions(conn: Connection, name: str) -> list[VersionOut]:
    """The strategy's versions, newest first (at most ``LIST_MAX``)."""
    strategy(conn, name)  # 404 for an unknown strategy
    rows = conn.execute(
        select(risk_strategy_versions)
        .where(risk_strategy_versions.c.name == name)
        .order_by(risk_strategy_versions.c.version.desc())
        .limit(LIST_MAX)
    ).all()
    sizes = _pack_sizes(conn, [row.id for row in rows])
    return [version_out(row, sizes.get(row.id, 0)) for row in rows]


def version_detail(conn: Connection, name: str, version: int) -> VersionDetail:
    row = version_row(conn, name, version)
    pack = pack_of(conn, row.id)
    summary = version_out(row, len(pack))
    return VersionDetail(
        **summary.model_dump(),
        rules=[RuleIn.model_validate(rule) for rule in json.loads(row.rules_json)],
        thresholds=ThresholdsIn.model_validate(json.loads(row.thresholds_json)),
        test_pack=[ExampleIn(label=e.label, activation=e.activation, expected=e.expected) for e in pack],
    )


def diff(conn: Connection, name: str, from_version: int, to_version: int) -> DiffOut:
    """What changed in the rules (by reason code) and thresholds from one version to another."""
    before, after = version_detail(conn, name, from_version), version_detail(conn, name, to_version)
    old = {rule.code: rule for rule in before.rules}
    new = {rule.code: rule for rule in after.rules}
    common_old = [rule.code for rule in before.rules if rule.code in new]
    common_new = [rule.code for rule in after.rules if rule.code in old]
    return DiffOut(
        name=name,
        from_version=from_version,
        to_version=to_version,
        added=[rule for code, rule in new.items() if code not in old],
        removed=[rule for code, rule in old.items() if code not in new],
        changed=[
            RuleChange(code=code, before=old[code], after=new[code])
            for code in common_new
            if old[code] != new[code]
        ],
        order_changed=common_old != common_new,
        thresholds_before=before.thresholds,
        thresholds_after=after.thresholds,
    )
