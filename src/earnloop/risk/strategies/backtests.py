"""Backtesting a stored strategy version over every screened event and keeping the result with the
version, where the approver sees it (issue 15; the replay itself is :mod:`earnloop.risk.backtest`).

Owns :func:`backtest_version`: read the version, replay it (worker processes on a file database or
PostgreSQL), then record the summary in the version's ``backtest_json`` and the audit log.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import update

from earnloop.auth.operators import Operator
from earnloop.db.engine import Database
from earnloop.risk.backtest import Store, backtest
from earnloop.risk.strategies import audit
from earnloop.risk.strategies.models import risk_strategy_versions
from earnloop.risk.strategies.stored import strategy_of, version_row

WORKERS_MAX = 16


def store_of(db: Database) -> Store | None:
    """Where worker processes find ``db``; ``None`` for an in-memory SQLite database (replayed here)."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    return Store(url.render_as_string(hide_password=False), db.search_path)


def backtest_version(
    db: Database,
    name: str,
    version: int,
    fields: Mapping[str, type],
    operator: Operator,
    *,
    workers: int = 2,
) -> dict[str, Any]:
    """Replay version ``version`` of strategy ``name`` over the decision log and record the result."""
    workers = max(1, min(workers, WORKERS_MAX))
    with db.uow(write=False) as conn:
        row = version_row(conn, name, version)
        strategy = strategy_of(name, version, json.loads(row.rules_json), json.loads(row.thresholds_json))
        store = store_of(db)
        result = backtest(store, strategy, fields, conn=conn, workers=workers if store else 1)
    summary = {key: value for key, value in result.items() if key != "rules"}
    with db.uow() as conn:
        conn.execute(
            update(risk_strategy_versions)
            .where(risk_strategy_versions.c.id == row.id)
            .values(backtest_json=json.dumps(result, sort_keys=True))
        )
        audit.record(
            conn,
            name=name,
            version=version,
            action="backtest",
            operator=operator,
            detail=summary,
            now_ns=time.time_ns(),
        )
    return result
