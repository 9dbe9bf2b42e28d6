"""Affiliate (shopping cashback): ``GET /go/shop/{merchant_id}`` (a user's click → 302 to the merchant's
tracking link carrying the click id), ``POST /affiliate/postbacks/{merchant_id}`` (signed conversion
updates), the user's conversions, and the operators' secrets, report import and lists."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from earnloop.affiliate import postbacks, report, service
from earnloop.api.context import AppContext, app_context
from earnloop.api.deps import Admin, User
from earnloop.api.inbound import answer_postback, client_ip
from earnloop.api.problems import ProblemError, problem_responses
from earnloop.api.types import Id, QueryId

router = APIRouter(tags=["affiliate"])
Limit = Annotated[int, Query(ge=1, le=service.LIST_MAX)]
Status = Literal["pending", "approved", "declined", "reversed"]


class SecretIn(BaseModel):
    secret: str = Field(min_length=service.SECRET_MIN_LEN, max_length=service.SECRET_MAX_LEN)
    active: bool = True


@router.get(
    "/go/shop/{merchant_id}",
    status_code=302,
    response_class=RedirectResponse,
    responses={
        **problem_responses(401, 404, 422),
        302: {"description": "To the merchant's tracking link carrying the click id"},
    },
)
def go_shop(merchant_id: Id, request: Request, user: User) -> RedirectResponse:
    """Record the user's click on a merchant and redirect to its tracking link."""
    ctx = user.ctx
    with ctx.db.uow() as conn:
        click = service.record_click(
            conn,
            user_id=user.user_id,
            merchant_id=merchant_id,
            user_agent=request.headers.get("user-agent", ""),
            client_ip=client_ip(request),
            now_ns=ctx.ledger.clock.now_ns(),
        )
    return RedirectResponse(click["location"], status_code=302, headers={"Cache-Control": "no-store"})


@router.post(
    "/affiliate/postbacks/{merchant_id}",
    responses={**problem_responses(400, 403, 404, 422, 503), 200: {"description": "The conversion"}},
)
async def postback(merchant_id: Id, request: Request) -> Response:
    """A merchant partner's conversion update, signed with ``Earnloop-Signature`` over the raw body;
    idempotent on (order id, status, amount): a duplicate gets the first reply verbatim."""
    ctx = app_context(request)
    box, risk = ctx.box, ctx.risk
    return await answer_postback(
        request,
        lambda conn, ledger, raw, now_ns: postbacks.handle_postback(
            conn, ledger, raw, merchant_id=merchant_id, now_ns=now_ns, box=box, risk=risk
        ),
    )


@router.get("/v1/affiliate/conversions", responses=problem_responses(401, 422))
def my_conversions(user: User, limit: Limit = 100) -> list[dict[str, Any]]:
    """Your shopping conversions, newest first, with their status and the reward they pay."""
    with user.ctx.db.uow(write=False) as conn:
        return service.list_conversions(conn, user_id=user.user_id, limit=limit)


# -- admin --------------------------------------------------------------------------------------------
admin = APIRouter(
    prefix="/v1/admin/affiliate", tags=["admin", "affiliate"], responses=problem_responses(401, 404, 422)
)


@admin.put("/merchants/{merchant_id}/secrets")
def put_secret(merchant_id: Id, body: SecretIn, ctx: Admin) -> dict[str, Any]:
    """Add a merchant's postback secret or (de)activate one (two active = rotation); not echoed."""
    with ctx.db.uow() as conn:
        return service.set_secret(
            conn,
            merchant_id=merchant_id,
            secret=body.secret,
            active=body.active,
            now_ns=ctx.ledger.clock.now_ns(),
            box=ctx.box,
        )


@admin.get("/merchants/{merchant_id}/secrets")
def get_secrets(merchant_id: Id, ctx: Admin) -> list[dict[str, Any]]:
    with ctx.db.uow(write=False) as conn:
        return service.list_secrets(conn, merchant_id)


def _csv_bytes(content_type: str, body: bytes) -> bytes:
    """The report: the body itself (``text/csv``), or the ``file`` field of a multipart form."""
    if not content_type.lower().startswith("multipart/form-data"):
        return body
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if message.is_multipart():
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    return payload
    raise ProblemError(
        422, "affiliate-report-rejected", "Affiliate report rejected", "no `file` field in the form"
    )


def _import(ctx: AppContext, merchant_id: int, content: str) -> dict[str, Any]:
    with ctx.db.uow() as conn:
        return report.import_report(
            conn,
            ctx.ledger,
            merchant_id=merchant_id,
            content=content,
            now_ns=ctx.ledger.clock.now_ns(),
            risk=ctx.risk,
        )


@admin.post("/merchants/{merchant_id}/report", responses=problem_responses(413))
async def import_report(merchant_id: Id, request: Request, ctx: Admin) -> JSONResponse:
    """Import a partner report (CSV as the body, or a multipart ``file``). Valid rows are applied,
    rejected rows listed in ``errors`` ({row, order_id, reason_code, message}); re-importing changes
    nothing. An unreadable file (encoding, header) is refused whole with 422."""
    body = await request.body()
    if len(body) > report.REPORT_MAX_BYTES + 64 * 1024:
        raise ProblemError(413, "payload-too-large", "Payload too large", "a report is at most 10 MiB")
    try:
        content = _csv_bytes(request.headers.get("content-type", ""), body).decode("utf-8")
    except UnicodeDecodeError:
        raise ProblemError(
            422, "affiliate-report-rejected", "Affiliate report rejected", "the file must be UTF-8"
        ) from None
    return JSONResponse(await run_in_threadpool(_import, ctx, merchant_id, content))


@admin.get("/conversions")
def get_conversions(
    ctx: Admin,
    merchant_id: QueryId = None,
    user_id: QueryId = None,
    status: Status | None = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    """Conversions, newest first, with status, order amount and reward parts."""
    with ctx.db.uow(write=False) as conn:
        return service.list_conversions(
            conn, merchant_id=merchant_id, user_id=user_id, status=status, limit=limit
        )


@admin.get("/requests")
def get_requests(
    ctx: Admin,
    merchant_id: QueryId = None,
    outcome: Literal["accepted", "duplicate", "rejected"] | None = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    """Update requests as received (postbacks and report rows), newest first, with their outcome."""
    with ctx.db.uow(write=False) as conn:
        return service.list_requests(conn, merchant_id=merchant_id, outcome=outcome, limit=limit)
