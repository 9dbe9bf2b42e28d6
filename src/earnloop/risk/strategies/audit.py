"""The strategies' audit log: every change (publish, approve, rollback, shadow) with who made it and
when. Rows are only ever inserted; nothing here updates or deletes one."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, insert, select

from earnloop.auth.operators import Operator
from earnloop.risk.strategies.models import risk_strategy_audit
from earnloop.risk.strategies.schemas import AuditOut, at

PUBLISHED, APPROVED, ROLLED_BACK = "published", "approved", "rolled_back"
SHADOW_SET, SHADOW_CLEARED = "shadow_set", "shadow_cleared"
LIST_MAX = 1_000


def record(
    conn: Connection,
    *,
    name: str,
    version: int | None,
    action: str,
    operator: Operator,
    detail: dict[str, Any],
    now_ns: int,
) -> None:
    conn.execute(
        insert(risk_strategy_audit).values(
            name=name,
            version=version,
            action=action,
            operator_id=operator.id,
            operator=operator.name,
            detail_json=json.dumps(detail, sort_keys=True),
            at_ns=now_ns,
        )
    )


def log_of(conn: Connection, name: str, *, limit: int = LIST_MAX) -> list[AuditOut]:
    """The strategy's changes, oldest first (at most ``limit``, the latest ones)."""
    rows = conn.execute(
        select(risk_strategy_audit)
        .where(risk_strategy_audit.c.name == name)
        .order_by(risk_strategy_audit.c.id.desc())
        .limit(min(limit, LIST_MAX))
    ).all()
    return [
        AuditOut(
            id=row.id,
            name=row.name,
            version=row.version,
            action=row.action,
            operator=row.operator,
            detail=json.loads(row.detail_json),
            at=at(row.at_ns),
        )
        for row in reversed(rows)
    ]
