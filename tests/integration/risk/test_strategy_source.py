"""``DbStrategySource`` on SQLite and PostgreSQL: it checks the database at most once per refresh
interval, loads what another writer approved, keeps deciding with what it holds when a reload fails,
and makes concurrent first callers wait for the first load. And a property: whatever sequence of
publish, approve, rollback and shadow an operator tries, refused steps change nothing and the stored
state stays coherent (one live version per strategy, named by its pointer, served by the source)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select

from earnloop.auth.operators import Operator, create_operator, operator_for_token
from earnloop.db.engine import Database
from earnloop.risk.fields import catalogue
from earnloop.risk.rules import Rule, Strategy, compile_strategy
from earnloop.risk.strategies import service
from earnloop.risk.strategies.errors import StrategyError, StrategyNotFoundError
from earnloop.risk.strategies.models import (
    risk_strategy_audit,
    risk_strategy_examples,
    risk_strategy_pointers,
    risk_strategy_versions,
)
from earnloop.risk.strategies.schemas import VersionIn
from earnloop.risk.strategies.source import DbStrategySource
from tests.integration.risk.support import LENIENT, STRICT

NAME = "default"


class Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def people(db: Database) -> tuple[Operator, Operator]:
    with db.uow() as conn:
        found = [operator_for_token(conn, create_operator(conn, n, ["risk"]).secret) for n in ("ann", "ben")]
    assert found[0] is not None
    assert found[1] is not None
    return found[0], found[1]


def _publish(db: Database, author: Operator, document: dict[str, Any]) -> int:
    with db.uow() as conn:
        return service.publish(
            conn, NAME, VersionIn.model_validate(document), author, fields=catalogue(), now_ns=time.time_ns()
        ).version


def _approve(db: Database, approver: Operator, version: int) -> None:
    with db.uow() as conn:
        service.approve(conn, NAME, version, approver, four_eyes=True, now_ns=time.time_ns())


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if "risk_" in sql:  # not the transactions' BEGIN and COMMIT
            seen.append(sql)

    event.listen(db.engine, "before_cursor_execute", count)
    yield seen
    event.remove(db.engine, "before_cursor_execute", count)


def test_the_source_reads_the_database_at_most_once_per_interval(
    db: Database, people: tuple[Operator, Operator], statements: list[str]
) -> None:
    ann, ben = people
    _approve(db, ben, _publish(db, ann, LENIENT))
    clock = Clock()
    source = DbStrategySource(db, NAME, fields=catalogue(), refresh_ms=1_000, monotonic_s=clock)
    statements.clear()
    assert {source.live().strategy.version for _ in range(500)} == {"default-1"}
    loaded = len(statements)
    assert 0 < loaded <= 6
    _approve(db, ann, _publish(db, ben, STRICT))
    statements.clear()
    clock.now_s += 0.999
    assert {source.live().strategy.version for _ in range(500)} == {"default-1"}  # not checked yet
    assert statements == []
    clock.now_s += 0.001
    assert source.live().strategy.version == "default-2"
    assert source.reloads == 2
    statements.clear()
    clock.now_s += 1
    assert source.live().strategy.version == "default-2"
    assert len(statements) == 1  # nothing changed: one row read, nothing compiled
    assert "risk_strategy_pointers" in statements[0]


def test_a_version_that_no_longer_compiles_leaves_the_held_one_in_force(
    db: Database, people: tuple[Operator, Operator], statements: list[str]
) -> None:
    ann, ben = people
    _approve(db, ben, _publish(db, ann, LENIENT))  # reads click_to_event_s only
    narrower = {k: v for k, v in catalogue().items() if k != "amount"}
    source = DbStrategySource(db, NAME, fields=narrower, refresh_ms=0)
    assert source.live().strategy.version == "default-1"
    strict = _publish(db, ben, STRICT)  # reads amount, which this process does not know
    with db.uow() as conn:
        service.set_shadow(conn, NAME, strict, ann, now_ns=time.time_ns())
    assert source.live().strategy.version == "default-1"  # the shadow that does not compile is dropped
    assert source.shadow() is None
    _approve(db, ann, strict)
    assert source.live().strategy.version == "default-1"
    statements.clear()
    assert source.live().strategy.version == "default-1"
    assert len(statements) == 1  # the refused generation is not loaded again: one row read


def test_the_fallback_decides_while_no_version_is_live(
    db: Database, people: tuple[Operator, Operator]
) -> None:
    fallback = compile_strategy(Strategy("builtin-1", (Rule("never", "false", "block"),)), catalogue())
    source = DbStrategySource(db, NAME, fields=catalogue(), refresh_ms=0, fallback=fallback)
    assert source.live() is fallback
    assert source.shadow() is None
    with pytest.raises(StrategyNotFoundError):
        DbStrategySource(db, NAME, fields=catalogue(), refresh_ms=0).live()
    ann, ben = people
    _approve(db, ben, _publish(db, ann, LENIENT))
    assert source.live().strategy.version == "default-1"


def test_concurrent_first_callers_all_get_the_live_version(
    db: Database, people: tuple[Operator, Operator]
) -> None:
    ann, ben = people
    _approve(db, ben, _publish(db, ann, LENIENT))
    source = DbStrategySource(db, NAME, fields=catalogue(), refresh_ms=60_000)
    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = list(pool.map(lambda _: source.live().strategy.version, range(64)))
    assert set(versions) == {"default-1"}
    assert source.reloads == 1


# -- a property over sequences of operator actions ---------------------------------------------------
Step = tuple[str, int, int]  # (action, version, operator index)
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["publish", "approve", "rollback", "shadow", "clear"]),
        st.integers(1, 4),
        st.integers(0, 1),
    ),
    max_size=12,
)


def _state(db: Database) -> tuple[Any, ...]:
    with db.uow(write=False) as conn:
        return tuple(
            tuple(tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns)))
            for table in (risk_strategy_versions, risk_strategy_pointers, risk_strategy_audit)
        )


def _act(db: Database, step: Step, who: Operator) -> None:
    action, version, _ = step
    now_ns = time.time_ns()
    with db.uow() as conn:
        if action == "publish":
            document = VersionIn.model_validate(LENIENT if version % 2 else STRICT)
            service.publish(conn, NAME, document, who, fields=catalogue(), now_ns=now_ns)
        elif action == "approve":
            service.approve(conn, NAME, version, who, four_eyes=True, now_ns=now_ns)
        elif action == "rollback":
            service.rollback(conn, NAME, version, who, now_ns=now_ns)
        else:
            service.set_shadow(conn, NAME, version if action == "shadow" else None, who, now_ns=now_ns)


def _coherent(db: Database, source: DbStrategySource) -> None:
    with db.uow(write=False) as conn:
        live = (
            conn.execute(
                select(risk_strategy_versions.c.version).where(risk_strategy_versions.c.status == "live")
            )
            .scalars()
            .all()
        )
        pointer = conn.execute(select(risk_strategy_pointers)).first()
    assert len(live) <= 1
    assert (pointer.live_version if pointer else None) == (live[0] if live else None)
    if live:
        assert source.live().strategy.version == f"{NAME}-{live[0]}"
        assert pointer is not None
        assert pointer.shadow_version != live[0]
        shadow = source.shadow()
        assert (shadow.strategy.version if shadow else None) == (
            f"{NAME}-{pointer.shadow_version}" if pointer.shadow_version else None
        )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_any_sequence_of_changes_keeps_one_coherent_live_version(
    db: Database, people: tuple[Operator, Operator], steps: list[Step]
) -> None:
    _reset_strategies(db)
    source = DbStrategySource(db, NAME, fields=catalogue(), refresh_ms=0)
    for step in steps:
        before = _state(db)
        try:
            _act(db, step, people[step[2]])
        except StrategyError:
            assert _state(db) == before  # a refused change changes nothing
        _coherent(db, source)


def _reset_strategies(db: Database) -> None:
    """Each example starts with no strategy (the operators stay)."""
    with db.uow() as conn:
        for table in (
            risk_strategy_examples,
            risk_strategy_audit,
            risk_strategy_versions,
            risk_strategy_pointers,
        ):
            conn.execute(table.delete())
