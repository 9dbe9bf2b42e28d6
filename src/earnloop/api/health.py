"""Liveness (``/healthz``), readiness (``/readyz``: database reachable, schema current) and ``/metrics``
(for a scraper holding ``EARNLOOP_METRICS_TOKEN`` or the admin token; anonymous callers get 401)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from earnloop.api.context import AppContext, app_context
from earnloop.api.deps import Credentials
from earnloop.api.problems import ProblemError, problem_response, problem_responses
from earnloop.auth.admin_token import token_matches
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


@router.get("/metrics", response_class=Response, include_in_schema=False, responses=problem_responses(401))
def metrics(request: Request, credentials: Credentials) -> Response:
    """Prometheus exposition format, for the scrape token or the admin token."""
    ctx = app_context(request)
    if credentials is None or not _may_scrape(ctx, credentials.credentials):
        raise ProblemError(
            401,
            "unauthorized",
            "Metrics token required",
            "send `Authorization: Bearer <EARNLOOP_METRICS_TOKEN or the admin token>`",
        )
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _may_scrape(ctx: AppContext, presented: str) -> bool:
    scrape = ctx.settings.metrics_token
    scrape_token = None if scrape is None else scrape.get_secret_value()
    return token_matches(scrape_token, presented) or token_matches(ctx.admin_token, presented)
