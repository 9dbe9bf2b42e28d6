"""Changing strategies: publish a version (validated against the field catalogue, its test pack run),
approve it into force (four eyes), roll back to an earlier approved version, pick the shadow candidate.
Every change is one transaction that first locks the strategy's pointer row (bumping its generation,
which tells every process to reload), and writes its audit row (ADR 0025). Nothing here commits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Row, insert, update

from earnloop.auth.operators import ROLE_RISK, Operator
from earnloop.db.upsert import dialect_insert
from earnloop.idempotency import service as idem
from earnloop.risk.strategies import audit
from earnloop.risk.strategies.errors import (
    FourEyesError,
    StrategyConflictError,
    StrategyError,
    StrategyNotFoundError,
    TestPackFailedError,
)
from earnloop.risk.strategies.models import (
    risk_strategy_examples,
    risk_strategy_pointers,
    risk_strategy_versions,
)
from earnloop.risk.strategies.packs import Example, build_activation, run_pack
from earnloop.risk.strategies.queries import version_out
from earnloop.risk.strategies.schemas import NAME_PATTERN, VERSION_MAX, VersionIn, VersionOut
from earnloop.risk.strategies.stored import compile_checked, pack_of, rules_json, strategy_of, version_row

_NAME = re.compile(NAME_PATTERN)
PACK_WHERE = "test_pack"


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise StrategyError("strategy name: 1-32 of a-z, 0-9, _ and -, starting with a letter")


def _require_risk(operator: Operator) -> None:
    if not operator.has_role(ROLE_RISK):
        raise StrategyError(f"operator {operator.name!r} does not have the risk role")


def publish(
    conn: Connection,
    name: str,
    submitted: VersionIn,
    author: Operator,
    *,
    fields: Mapping[str, type],
    now_ns: int,
    idempotency_key: str | None = None,
) -> VersionOut:
    """Store a new draft version of ``name``: its rules compile against ``fields`` and its test pack (the
    submitted one, else the previous version's) passes. Raises a :class:`StrategyError` otherwise. A
    retry with the author's same ``idempotency_key`` and document gets the version the first one made."""
    check_name(name)
    _require_risk(author)
    scope = f"risk-strategy-publish:{author.id}:{name}"
    if idempotency_key is not None:
        replayed = idem.claim(conn, scope, idempotency_key, submitted.model_dump(mode="json"))
        if replayed is not None:
            return VersionOut.model_validate(replayed)
    published = _publish(conn, name, submitted, author, fields=fields, now_ns=now_ns)
    if idempotency_key is not None:
        idem.complete(conn, scope, idempotency_key, published.model_dump(mode="json"))
    return published


def _publish(
    conn: Connection,
    name: str,
    submitted: VersionIn,
    author: Operator,
    *,
    fields: Mapping[str, type],
    now_ns: int,
) -> VersionOut:
    _ensure_pointer(conn, name, now_ns)
    version = _allocate_version(conn, name)
    rules = [rule.model_dump() for rule in submitted.rules]
    thresholds = submitted.thresholds.model_dump()
    compiled = compile_checked(strategy_of(name, version, rules, thresholds), fields)
    if submitted.test_pack is not None:
        pack = [Example(e.label, dict(e.activation), e.expected) for e in submitted.test_pack]
        carried_from = None
    else:
        pack, carried_from = _previous_pack(conn, name, version)
    where = f"{PACK_WHERE}(version {carried_from})" if carried_from else PACK_WHERE
    failures = run_pack(compiled, pack, where=where)
    if failures:
        raise TestPackFailedError(failures, examples=len(pack), carried_from=carried_from)
    version_id = _insert_version(conn, name, version, submitted, author, now_ns)
    _insert_pack(conn, version_id, pack)
    detail = {"rules": len(rules), "examples": len(pack), "pack_carried_from": carried_from}
    audit.record(
        conn,
        name=name,
        version=version,
        action=audit.PUBLISHED,
        operator=author,
        detail=detail,
        now_ns=now_ns,
    )
    return version_out(version_row(conn, name, version), len(pack))


def _ensure_pointer(conn: Connection, name: str, now_ns: int) -> None:
    values = {"name": name, "generation": 0, "latest_version": 0, "updated_at_ns": now_ns}
    conn.execute(dialect_insert(conn, risk_strategy_pointers).values(**values).on_conflict_do_nothing())


def _allocate_version(conn: Connection, name: str) -> int:
    """The next version number: one guarded statement, so concurrent publishers get different ones
    (on PostgreSQL the row stays locked by this transaction until it ends)."""
    statement = (
        update(risk_strategy_pointers)
        .where(risk_strategy_pointers.c.name == name, risk_strategy_pointers.c.latest_version < VERSION_MAX)
        .values(latest_version=risk_strategy_pointers.c.latest_version + 1)
        .returning(risk_strategy_pointers.c.latest_version)
    )
    version = conn.execute(statement).scalar_one_or_none()
    if version is None:
        raise StrategyConflictError(f"strategy {name!r} has reached {VERSION_MAX} versions")
    return int(version)


def _previous_pack(conn: Connection, name: str, version: int) -> tuple[list[Example], int | None]:
    """The test pack of the latest version before ``version`` (and its number), or none for a first."""
    if version == 1:
        return [], None
    row = version_row(conn, name, version - 1)
    return pack_of(conn, row.id), version - 1


def _insert_version(
    conn: Connection, name: str, version: int, submitted: VersionIn, author: Operator, now_ns: int
) -> int:
    values = {
        "name": name,
        "version": version,
        "rules_json": rules_json([rule.model_dump() for rule in submitted.rules]),
        "thresholds_json": json.dumps(submitted.thresholds.model_dump(), sort_keys=True),
        "changelog": submitted.changelog,
        "author_id": author.id,
        "author": author.name,
        "created_at_ns": now_ns,
        "status": "draft",
        "self_approved": False,
    }
    statement = insert(risk_strategy_versions).values(**values).returning(risk_strategy_versions.c.id)
    return int(conn.execute(statement).scalar_one())


def _insert_pack(conn: Connection, version_id: int, pack: list[Example]) -> None:
    if pack:
        rows = [
            {
                "version_id": version_id,
                "position": position,
                "label": example.label,
                "activation_json": json.dumps(example.activation, sort_keys=True),
                "expected": example.expected,
            }
            for position, example in enumerate(pack)
        ]
        conn.execute(insert(risk_strategy_examples), rows)


def approve(
    conn: Connection, name: str, version: int, approver: Operator, *, four_eyes: bool, now_ns: int
) -> VersionOut:
    """Put the draft ``version`` in force. With ``four_eyes`` its author may not approve it; without,
    an author's own approval is recorded as self-approved."""
    _require_risk(approver)
    current = _lock_pointer(conn, name, now_ns)
    row = version_row(conn, name, version)
    if row.status != "draft":
        raise StrategyConflictError(
            f"version {version} of {name!r} is {row.status}: only a draft is approved "
            "(roll back to put an earlier approved version in force again)"
        )
    own = row.author_id == approver.id
    if own and four_eyes:
        raise FourEyesError(
            f"version {version} of {name!r} was published by {row.author}: another operator with the risk "
            "role must approve it"
        )
    _retire_live(conn, name)
    approval = {"approver_id": approver.id, "approver": approver.name, "approved_at_ns": now_ns}
    _set_status(conn, row, "draft", status="live", self_approved=own, **approval)
    _point(conn, name, live_version=version, shadow_version=_unless(current["shadow_version"], version))
    detail = {"self_approved": own, "previous_live": current["live_version"]}
    audit.record(
        conn,
        name=name,
        version=version,
        action=audit.APPROVED,
        operator=approver,
        detail=detail,
        now_ns=now_ns,
    )
    return version_out(version_row(conn, name, version), None)


def rollback(conn: Connection, name: str, version: int, operator: Operator, *, now_ns: int) -> VersionOut:
    """Put an earlier approved ``version`` in force again (no second approval: it had one)."""
    _require_risk(operator)
    current = _lock_pointer(conn, name, now_ns)
    row = version_row(conn, name, version)
    if row.status == "live":
        raise StrategyConflictError(f"version {version} of {name!r} is already live")
    if row.approved_at_ns is None:
        raise StrategyConflictError(
            f"version {version} of {name!r} was never approved: approve it instead of rolling back to it"
        )
    _retire_live(conn, name)
    _set_status(conn, row, "retired", status="live")
    _point(conn, name, live_version=version, shadow_version=_unless(current["shadow_version"], version))
    detail = {"previous_live": current["live_version"]}
    audit.record(
        conn,
        name=name,
        version=version,
        action=audit.ROLLED_BACK,
        operator=operator,
        detail=detail,
        now_ns=now_ns,
    )
    return version_out(version_row(conn, name, version), None)


def set_shadow(conn: Connection, name: str, version: int | None, operator: Operator, *, now_ns: int) -> None:
    """Make ``version`` the shadow candidate of ``name`` (``None``: no shadow)."""
    _require_risk(operator)
    current = _lock_pointer(conn, name, now_ns)
    if version is not None:
        version_row(conn, name, version)  # it exists
        if version == current["live_version"]:
            raise StrategyConflictError(f"version {version} of {name!r} is live: a shadow runs beside it")
    _point(conn, name, live_version=current["live_version"], shadow_version=version)
    action = audit.SHADOW_SET if version is not None else audit.SHADOW_CLEARED
    detail = {"previous_shadow": current["shadow_version"]}
    audit.record(
        conn, name=name, version=version, action=action, operator=operator, detail=detail, now_ns=now_ns
    )


def _lock_pointer(conn: Connection, name: str, now_ns: int) -> dict[str, Any]:
    """Bump the strategy's generation (locking its row until the transaction ends, so that changes to
    one strategy run one at a time) and return its live and shadow versions."""
    statement = (
        update(risk_strategy_pointers)
        .where(risk_strategy_pointers.c.name == name)
        .values(generation=risk_strategy_pointers.c.generation + 1, updated_at_ns=now_ns)
        .returning(risk_strategy_pointers.c.live_version, risk_strategy_pointers.c.shadow_version)
    )
    row = conn.execute(statement).first()
    if row is None:
        raise StrategyNotFoundError(f"no strategy {name!r}")
    return {"live_version": row.live_version, "shadow_version": row.shadow_version}


def _retire_live(conn: Connection, name: str) -> None:
    versions = risk_strategy_versions.c
    conn.execute(
        update(risk_strategy_versions)
        .where(versions.name == name, versions.status == "live")
        .values(status="retired")
    )


def _set_status(conn: Connection, row: Row[Any], expected: str, **values: Any) -> None:
    """Move one version's status from ``expected``: a guarded update whose row count must be one."""
    versions = risk_strategy_versions.c
    result = conn.execute(
        update(risk_strategy_versions)
        .where(versions.id == row.id, versions.status == expected)
        .values(**values)
    )
    if result.rowcount != 1:
        raise StrategyConflictError(f"version {row.version} of {row.name!r} changed meanwhile; try again")


def _point(conn: Connection, name: str, *, live_version: int | None, shadow_version: int | None) -> None:
    conn.execute(
        update(risk_strategy_pointers)
        .where(risk_strategy_pointers.c.name == name)
        .values(live_version=live_version, shadow_version=shadow_version)
    )


def _unless(shadow: int | None, version: int) -> int | None:
    """The shadow stays, unless it is the version going live."""
    return None if shadow == version else shadow


def activation_for(fields: Mapping[str, type], values: Mapping[str, Any]) -> dict[str, Any]:
    """A dry-run's activation: ``values`` checked against the catalogue, the rest zero values."""
    return build_activation(fields, values, where="activation")
