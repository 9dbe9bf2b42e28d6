"""RFC 9457 problem details: every HTTP error leaves as ``application/problem+json`` with a stable type."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from earnloop.errors import DomainError

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://earnloop.dev/problems/"


class InvalidParam(BaseModel):
    name: str = Field(description="Dotted path of the offending field, e.g. `body.transfers.0.amount`.")
    reason: str


class ProblemDetail(BaseModel):
    """The body of every error response."""

    type: str = Field(description="Stable URI naming the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    invalid_params: list[InvalidParam] | None = None


class ProblemError(Exception):
    """Raise from a router to answer with a problem document."""

    def __init__(self, status: int, slug: str, title: str, detail: str | None = None) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    invalid_params: list[InvalidParam] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ProblemDetail(
        type=TYPE_BASE + slug,
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        invalid_params=invalid_params,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries declaring problem+json bodies for ``statuses``."""
    return {
        status: {"model": ProblemDetail, "content": {PROBLEM_MEDIA_TYPE: {}}, "description": "Problem"}
        for status in statuses
    }


_STATUS_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    503: ("unavailable", "Service unavailable"),
}


def install_problem_handlers(app: FastAPI) -> None:
    log = structlog.get_logger("earnloop.api")

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc.status, exc.slug, exc.title, exc.detail, instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        params = [
            InvalidParam(name=".".join(str(p) for p in err.get("loc", ())), reason=str(err.get("msg", "")))
            for err in exc.errors()
        ]
        return problem_response(
            422,
            "validation-error",
            "Request validation failed",
            f"{len(params)} invalid parameter(s)",
            instance=request.url.path,
            invalid_params=params,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug, title = _STATUS_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(
            exc.status_code, slug, title, detail, instance=request.url.path, headers=headers
        )

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        """Every domain's errors: the class states status, slug and title; the message is the detail."""
        if exc.status == 500:  # a failure of ours (e.g. the ledger refused what we expected to pass)
            log.error("domain_error", path=request.url.path, error_type=type(exc).__name__, error=str(exc))
        return problem_response(exc.status, exc.slug, exc.title, str(exc) or None, instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
        return problem_response(500, "internal-error", "Internal server error", instance=request.url.path)
