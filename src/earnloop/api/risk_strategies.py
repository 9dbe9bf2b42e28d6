"""``/v1/risk``: stored risk strategies — publish, approve (four eyes), roll back, shadow, versions, diff,
audit — and the operators' dry run of a decision (``POST /v1/risk/evaluate``). Changes need an operator
with the risk role; the admin token may read and dry-run (ADR 0025)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from earnloop.api.context import AppContext
from earnloop.api.deps import RiskOperator, RiskReader
from earnloop.api.problems import InvalidParam, problem_response, problem_responses
from earnloop.idempotency.service import KEY_MAX_LEN
from earnloop.risk.rules import Decision
from earnloop.risk.rules import evaluate as evaluate_rules
from earnloop.risk.strategies import audit, queries, service
from earnloop.risk.strategies.errors import RuleRefusedError, TestPackFailedError
from earnloop.risk.strategies.schemas import (
    NAME_PATTERN,
    VERSION_MAX,
    AuditOut,
    DecisionOut,
    DiffOut,
    EvaluateIn,
    EvaluateOut,
    ShadowIn,
    StrategyOut,
    VersionDetail,
    VersionIn,
    VersionOut,
)
from earnloop.risk.strategies.service import PACK_WHERE
from earnloop.risk.strategies.source import StrategySources

router = APIRouter(prefix="/v1/risk", tags=["risk"], responses=problem_responses(401, 403, 404, 422))
Name = Annotated[str, Path(pattern=NAME_PATTERN, description="The strategy's name.")]
Version = Annotated[int, Path(ge=1, le=VERSION_MAX)]
CHANGES = problem_responses(409)


def install(app: FastAPI, ctx: AppContext, fields: Mapping[str, type] | None = None) -> None:
    """The router, the process's strategy sources (hot-deployed) and the problem documents that name
    a refused rule or the failing examples of a test pack. ``fields``: what rules may read (default:
    the field catalogue of the app's engine); publish validates against it and dry runs decide with it."""
    app.state.strategy_sources = StrategySources(
        ctx.db,
        fields=ctx.risk.fields if fields is None else fields,
        refresh_ms=ctx.settings.risk_strategy_refresh_ms,
    )
    app.include_router(router)
    app.add_exception_handler(RuleRefusedError, _rule_refused)  # type: ignore[arg-type]
    app.add_exception_handler(TestPackFailedError, _pack_failed)  # type: ignore[arg-type]


def _sources(request: Request) -> StrategySources:
    sources: StrategySources = request.app.state.strategy_sources
    return sources


async def _rule_refused(request: Request, exc: RuleRefusedError) -> JSONResponse:
    where = "body.rules" if exc.index is None else f"body.rules.{exc.index}.expression"
    params = [InvalidParam(name=where, reason=str(exc))]
    return problem_response(
        422, exc.slug, exc.title, str(exc), instance=request.url.path, invalid_params=params
    )


async def _pack_failed(request: Request, exc: TestPackFailedError) -> JSONResponse:
    where = f"{PACK_WHERE}(version {exc.carried_from})" if exc.carried_from else f"body.{PACK_WHERE}"
    params = [InvalidParam(name=f"{where}.{f.position}", reason=f.describe()) for f in exc.failures]
    return problem_response(
        422, exc.slug, exc.title, str(exc), instance=request.url.path, invalid_params=params
    )


@router.get("/strategies")
def list_strategies(who: RiskReader) -> list[StrategyOut]:
    with who.ctx.db.uow(write=False) as conn:
        return queries.strategies(conn)


@router.get("/strategies/{name}")
def get_strategy(name: Name, who: RiskReader) -> StrategyOut:
    with who.ctx.db.uow(write=False) as conn:
        return queries.strategy(conn, name)


@router.post("/strategies/{name}/versions", status_code=201, responses=CHANGES)
def publish(
    name: Name,
    body: VersionIn,
    request: Request,
    who: RiskOperator,
    key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=KEY_MAX_LEN)] = None,
) -> VersionOut:
    """A new draft version: its rules compile, and its test pack (the one sent, else the previous
    version's) gets every expected outcome. It is in force once another risk operator approves it.
    A retry with the same ``Idempotency-Key`` and body gets the same version."""
    with who.ctx.db.uow() as conn:
        return service.publish(
            conn,
            name,
            body,
            who.operator,
            fields=_sources(request).fields,
            now_ns=time.time_ns(),
            idempotency_key=key,
        )


@router.get("/strategies/{name}/versions")
def list_versions(name: Name, who: RiskReader) -> list[VersionOut]:
    with who.ctx.db.uow(write=False) as conn:
        return queries.versions(conn, name)


@router.get("/strategies/{name}/versions/{version}")
def get_version(name: Name, version: Version, who: RiskReader) -> VersionDetail:
    with who.ctx.db.uow(write=False) as conn:
        return queries.version_detail(conn, name, version)


@router.post("/strategies/{name}/versions/{version}/approve", responses=CHANGES)
def approve(name: Name, version: Version, who: RiskOperator) -> VersionOut:
    """Put a draft in force: approved by an operator other than its author (unless four eyes are off)."""
    four_eyes = who.ctx.settings.risk_four_eyes
    with who.ctx.db.uow() as conn:
        return service.approve(conn, name, version, who.operator, four_eyes=four_eyes, now_ns=time.time_ns())


@router.post("/strategies/{name}/versions/{version}/rollback", responses=CHANGES)
def rollback(name: Name, version: Version, who: RiskOperator) -> VersionOut:
    """Put an earlier approved version in force again."""
    with who.ctx.db.uow() as conn:
        return service.rollback(conn, name, version, who.operator, now_ns=time.time_ns())


@router.put("/strategies/{name}/shadow", responses=CHANGES)
def set_shadow(name: Name, body: ShadowIn, who: RiskOperator) -> StrategyOut:
    """The candidate evaluated beside the live version (``null``: none)."""
    with who.ctx.db.uow() as conn:
        service.set_shadow(conn, name, body.version, who.operator, now_ns=time.time_ns())
        return queries.strategy(conn, name)


@router.get("/strategies/{name}/diff")
def diff(
    name: Name,
    who: RiskReader,
    from_version: Annotated[int, Query(alias="from", ge=1, le=VERSION_MAX)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=VERSION_MAX)],
) -> DiffOut:
    with who.ctx.db.uow(write=False) as conn:
        return queries.diff(conn, name, from_version, to_version)


@router.get("/strategies/{name}/audit")
def audit_log(name: Name, who: RiskReader) -> list[AuditOut]:
    with who.ctx.db.uow(write=False) as conn:
        queries.strategy(conn, name)
        return audit.log_of(conn, name)


@router.post("/evaluate")
def evaluate(body: EvaluateIn, request: Request, who: RiskReader) -> EvaluateOut:
    """A dry run: the decision the live version (or ``version``) gives ``activation`` — the fields it
    sets, zero values for the others — and the shadow candidate's beside it. Nothing is recorded."""
    sources = _sources(request)
    activation = service.activation_for(sources.fields, body.activation)
    if body.version is not None:
        compiled, shadow = sources.version(body.strategy, body.version), None
    else:
        source = sources.source(body.strategy)
        compiled, shadow = source.live(), source.shadow()
    decision = evaluate_rules(compiled, activation)
    shadowed = evaluate_rules(shadow, activation) if shadow is not None else None
    return EvaluateOut(decision=_out(decision), shadow=_out(shadowed) if shadowed else None)


def _out(decision: Decision) -> DecisionOut:
    return DecisionOut(
        outcome=decision.outcome,
        score=decision.score,
        reasons=list(decision.reasons),
        version=decision.version,
        latency_us=decision.latency_us,
    )
