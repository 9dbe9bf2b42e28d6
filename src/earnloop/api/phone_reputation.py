"""Phone-number reputation over HTTP (ADR 0026): users (``/v1/me/phone-reports``) and partners
(``/v1/partner/phone-reports``) report numbers; anyone signed in — a user, a partner or an operator —
looks one up (``/v1/phone-reputation/{number}``), e.g. to warn of an incoming call."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import BaseModel, Field

from earnloop.api.context import AppContext, app_context, run_read
from earnloop.api.deps import Credentials, PartnerAuth, User
from earnloop.api.problems import ProblemError, problem_responses
from earnloop.auth import service as auth
from earnloop.auth.admin_token import token_matches
from earnloop.bounds import Strict
from earnloop.risk import phones
from earnloop.risk.normalise import PHONE_INPUT_CHARS_MAX
from earnloop.risk.phone_models import NOTE_CHARS_MAX

router = APIRouter(prefix="/v1", tags=["phone reputation"], responses=problem_responses(401, 422))

Category = Literal["scam", "phishing", "fraud", "spam", "telemarketing", "robocall"]
assert get_args(Category) == phones.CATEGORIES  # the OpenAPI enum is the documented set
Region = Annotated[str | None, Query(pattern=r"^[A-Z]{2}$", description="Default: the configured region.")]


class PhoneReportIn(Strict):
    number: str = Field(
        min_length=1,
        max_length=PHONE_INPUT_CHARS_MAX,
        description="E.164 (+886912345678), or as dialled in ``region``.",
    )
    category: Category
    note: str = Field(default="", max_length=NOTE_CHARS_MAX)
    region: str | None = Field(default=None, pattern=r"^[A-Z]{2}$", description="Default: the configured.")


class CategoryCount(BaseModel):
    category: str
    reports: int


class ReputationOut(BaseModel):
    number: str = Field(description="E.164")
    risk_level: Literal["none", "low", "medium", "high"]
    score: int = Field(ge=0, le=phones.SCORE_MAX, description="Sum of the reporters' trust weights, capped.")
    flagged: bool = Field(description=f"score ≥ {phones.FLAG_SCORE}: warn about, or block, this number.")
    categories: list[CategoryCount] = Field(description="Most reported first.")
    report_count: int = Field(description="Distinct reporters.")

    @classmethod
    def of(cls, r: phones.Reputation) -> ReputationOut:
        return cls(
            number=r.number,
            risk_level=r.level,
            score=r.score,
            flagged=r.flagged,
            categories=[CategoryCount(category=c, reports=n) for c, n in r.categories],
            report_count=r.report_count,
        )


def _report(
    ctx: AppContext, body: PhoneReportIn, kind: phones.ReporterKind, reporter_id: int
) -> ReputationOut:
    region = body.region or ctx.settings.phone_default_region
    with ctx.db.uow() as conn:
        number = phones.report(
            conn,
            body.number,
            body.category,
            reporter_kind=kind,
            reporter_id=reporter_id,
            note=body.note,
            region=region,
        )
        return ReputationOut.of(phones.reputation_of(conn, number))


@router.post("/me/phone-reports", response_model=ReputationOut, status_code=201)
def report_as_user(body: PhoneReportIn, user: User) -> ReputationOut:
    """Report a number that called or texted you. You count once per number (reporting it again changes
    the category); answers the number's reputation with your report in it."""
    return _report(user.ctx, body, "user", user.user_id)


@router.post("/partner/phone-reports", response_model=ReputationOut, status_code=201)
def report_as_partner(body: PhoneReportIn, partner: PartnerAuth) -> ReputationOut:
    """Report a number as a partner (a trusted reporter: one partner report flags a number)."""
    return _report(partner.ctx, body, "partner", partner.partner.id)


async def require_signed_in(
    request: Request,
    credentials: Credentials,
    api_key: Annotated[str | None, Header(alias="X-Api-Key")] = None,
) -> AppContext:
    """An operator (admin token), a user (user token) or a partner (API key)."""
    ctx = app_context(request)
    if credentials is not None:
        token = credentials.credentials
        if token_matches(ctx.admin_token, token):
            return ctx
        if await run_read(ctx, lambda conn: auth.user_for_token(conn, token)) is not None:
            return ctx
    if api_key:
        key = api_key
        if await run_read(ctx, lambda conn: auth.partner_for_key(conn, key)) is not None:
            return ctx
    raise ProblemError(
        401,
        "unauthorized",
        "Sign-in required",
        "send a user token, a partner's `X-Api-Key` or the admin token",
    )


@router.get("/phone-reputation/{number}", response_model=ReputationOut)
def phone_reputation(
    number: Annotated[str, Path(min_length=1, max_length=PHONE_INPUT_CHARS_MAX)],
    ctx: Annotated[AppContext, Depends(require_signed_in)],
    region: Region = None,
) -> ReputationOut:
    """A number's reputation now: risk level, score, categories and how many reported it."""
    with ctx.db.uow(write=False) as conn:
        found = phones.lookup(conn, number, region=region or ctx.settings.phone_default_region)
    return ReputationOut.of(found)
