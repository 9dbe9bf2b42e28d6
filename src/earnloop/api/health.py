"""Liveness (``/healthz``), readiness (``/readyz``: database reachable, schema current) and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from earnloop.api.context import app_context
from earnloop.api.problems import problem_response, problem_responses
from earnloop.db.migrate import UPGRADE_HINT, schema_state

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    schema_revision: str | None


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up and serving."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses=problem_responses(503))
def readyz(request: Request) -> Readiness | JSONResponse:
    """Ready to take traffic: the database answers and its schema is at the code's revision."""
    ctx = app_context(request)
    try:
        state = schema_state(ctx.db)
    except SQLAlchemyError as exc:
        return problem_response(503, "database-unavailable", "Database unavailable", type(exc).__name__)
    if not state.is_current:
        return problem_response(503, "schema-behind", "Database schema is behind", UPGRADE_HINT)
    return Readiness(status="ready", database=ctx.db.dialect, schema_revision=state.current)


@router.get("/metrics", response_class=Response, include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus exposition format."""
    return Response(generate_latest(app_context(request).metrics.registry), media_type=CONTENT_TYPE_LATEST)
