"""``/v1/risk``: the decision log read back — explain a stored decision step by step, the shadow
candidate compared with the live strategy, and the backtest of a stored version over every screened
event (kept with the version for its approver). Reads: the admin token or a risk operator; a backtest
is recorded in the audit log, so it needs a named risk operator (ADR 0025)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from earnloop.api.deps import RiskOperator, RiskReader
from earnloop.api.problems import problem_responses
from earnloop.risk import decisions
from earnloop.risk.strategies.backtests import WORKERS_MAX, backtest_version
from earnloop.risk.strategies.schemas import NAME_PATTERN, VERSION_MAX

router = APIRouter(prefix="/v1/risk", tags=["risk"], responses=problem_responses(401, 403, 404, 422))
EventRef = Annotated[str, Path(min_length=1, max_length=200, description="The screened event's reference.")]


@router.get("/decisions/{event_ref}/explain")
def explain(
    event_ref: EventRef,
    who: RiskReader,
    version: Annotated[
        str | None,
        Query(max_length=40, description="Replay under this strategy version instead of the recorded one."),
    ] = None,
) -> dict[str, Any]:
    """The stored decision and its replay: each rule in order, whether it fired, the feature values it
    read and the score it added, then the thresholds."""
    with who.ctx.db.uow(write=False) as conn:
        return decisions.explain_decision(conn, event_ref, who.ctx.risk.fields, version=version)


@router.get("/shadow-report")
def shadow_report(who: RiskReader, since_ns: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0) -> dict[str, Any]:
    """The shadow candidate's decisions against the live ones: counts per pair, agreement, latest
    disagreements."""
    with who.ctx.db.uow(write=False) as conn:
        return decisions.shadow_report(conn, since_ns=since_ns)


@router.post("/strategies/{name}/versions/{version}/backtest")
async def backtest(
    name: Annotated[str, Path(pattern=NAME_PATTERN)],
    version: Annotated[int, Path(ge=1, le=VERSION_MAX)],
    who: RiskOperator,
    workers: Annotated[int, Query(ge=1, le=WORKERS_MAX)] = 2,
) -> dict[str, Any]:
    """Replay the whole version over every stored decision (point-in-time features) and score it
    against what the platform learned later: per-rule hits and precision, recall, money saved and
    money wrongly held. Kept with the version and audited."""
    ctx = who.ctx
    return await run_in_threadpool(
        backtest_version, ctx.db, name, version, ctx.risk.fields, who.operator, workers=workers
    )
