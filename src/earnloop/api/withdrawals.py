"""``/v1`` withdrawals (payout destinations, withdrawals, provider callbacks) and donations (campaigns,
donations, the public per-charity statement).

Without ``EARNLOOP_PAYOUT_PROVIDER_URL`` the app serves the fake payout provider itself at
``/fake-payouts`` (demo) and calls it in-process; with it, the provider is reached over HTTP.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Query, Request
from pydantic import AwareDatetime, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from earnloop import bounds
from earnloop.api.context import app_context
from earnloop.api.deps import Admin, IdempotencyKey, User
from earnloop.api.inbound import client_ip
from earnloop.api.problems import ProblemError, problem_responses
from earnloop.api.tracking import DEVICE_HEADER
from earnloop.api.types import Id
from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService
from earnloop.wallet.donations import service as donations
from earnloop.wallet.donations.schemas import Campaign
from earnloop.wallet.schemas import Amount, CurrencyCode, Strict, from_ns, to_ns
from earnloop.wallet.screening import Presence, keep_refusal, unwrap
from earnloop.wallet.withdrawals import service as withdrawals
from earnloop.wallet.withdrawals.payout_fake import DirectPayoutProvider, FakeBank, create_fake_app
from earnloop.wallet.withdrawals.payouts import (
    SIGNATURE_HEADER,
    HttpPayoutProvider,
    PayoutAnswer,
    PayoutProvider,
    PayoutUnknownError,
    require_real_provider,
    signature_matches,
)
from earnloop.wallet.withdrawals.schemas import Withdrawal

router = APIRouter(
    prefix="/v1", tags=["withdrawals", "donations"], responses=problem_responses(401, 403, 404, 409, 422)
)
FAKE_PAYOUTS_PATH = "/fake-payouts"


def install_payouts(app: FastAPI, settings: Settings) -> None:
    """Choose the payout provider: the configured URL, or the fake one served by this app (demo)."""
    provider: PayoutProvider
    require_real_provider(settings)
    if settings.payout_provider_url:
        provider = HttpPayoutProvider(settings.payout_provider_url, timeout_s=settings.payout_timeout_s)
    else:
        bank = FakeBank()
        app.mount(FAKE_PAYOUTS_PATH, create_fake_app(bank))
        provider = DirectPayoutProvider(bank)
    app.state.payout_provider = provider


def presence_of(request: Request) -> Presence:
    """Where a user's own request came from (client address, ``X-Device-Id``): risk entity keys."""
    return Presence(client_ip(request), request.headers.get(DEVICE_HEADER))


def provider_of(request: Request) -> PayoutProvider:
    provider: PayoutProvider = request.app.state.payout_provider
    return provider


# -- shapes --------------------------------------------------------------------------------------------
class DestinationIn(Strict):
    kind: str = Field(pattern="^(bank|ewallet)$")
    institution: str = Field(min_length=1, max_length=64, description="Bank or e-wallet name / code.")
    holder_name: str = Field(min_length=1, max_length=120)
    account_number: str = Field(min_length=6, max_length=64, description="Stored; shown only masked.")


class DestinationOut(BaseModel):
    destination_id: int
    kind: str
    institution: str
    holder_name: str
    account_masked: str
    active: bool


class WithdrawalIn(Strict):
    destination_id: int = Field(ge=1, le=(1 << 63) - 1)
    currency: str = CurrencyCode
    amount: int = Amount


class WithdrawalOut(BaseModel):
    withdrawal_id: int
    currency: str
    amount: int
    destination_id: int
    request_id: str = Field(description="The provider's request id, fixed before the first call.")
    state: str = Field(
        description="requested, processing, unknown (being resolved), paid, failed, in_review (held by risk"
        " screening until a reviewer decides) or rejected (by the reviewer; the money is back)."
    )
    provider_ref: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, d: Withdrawal) -> WithdrawalOut:
        return cls(
            **{k: v for k, v in d.items() if k not in ("user_id", "created_at_ns", "updated_at_ns")},
            created_at=from_ns(d["created_at_ns"]),
            updated_at=from_ns(d["updated_at_ns"]),
        )


class CampaignIn(Strict):
    name: str = Field(min_length=1, max_length=120)
    currency: str = CurrencyCode
    goal: int = Amount
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class CampaignOut(BaseModel):
    campaign_id: int
    charity_id: int
    name: str
    currency: str
    goal: int
    raised: int
    donations_count: int
    percent_of_goal: float
    starts_at: datetime
    ends_at: datetime
    active: bool

    @classmethod
    def of(cls, d: Campaign) -> CampaignOut:
        return cls(
            **{k: v for k, v in d.items() if k not in ("starts_at_ns", "ends_at_ns")},
            starts_at=from_ns(d["starts_at_ns"]),
            ends_at=from_ns(d["ends_at_ns"]),
        )


class DonationIn(Strict):
    campaign_id: int = Field(ge=1, le=(1 << 63) - 1)
    amount: int = Amount


class DonationOut(BaseModel):
    donation_id: int
    campaign_id: int
    charity_id: int
    currency: str
    amount: int
    created_at: datetime


class StatementLine(BaseModel):
    donation_id: int
    campaign_id: int
    amount: int
    donor: str = Field(description="Masked handle.")
    at: datetime


class StatementOut(BaseModel):
    charity_id: int
    charity_name: str
    currency: str
    donations_total: int = Field(description="Sum of every donation to this charity in this currency.")
    donations_count: int
    ledger_balance: int = Field(description="The charity's ledger account balance.")
    reconciled: bool = Field(description="donations_total == ledger_balance.")
    donations: list[StatementLine] = Field(description="A page, newest first; page with `before`.")


# -- destinations ---------------------------------------------------------------------------------------
@router.post("/me/payout-destinations", response_model=DestinationOut, status_code=201)
def add_destination(body: DestinationIn, user: User, request: Request) -> DestinationOut:
    """Register a bank account or e-wallet to withdraw to (the number is only ever shown masked). Risk
    screening may refuse it (403 `risk-denied`)."""
    with user.ctx.db.uow() as conn:
        created = keep_refusal(withdrawals.add_destination)(
            conn,
            user_id=user.user_id,
            kind=body.kind,
            institution=body.institution,
            holder_name=body.holder_name,
            account_number=body.account_number,
            now_ns=user.ctx.ledger.clock.now_ns(),
            risk=user.ctx.risk,
            presence=presence_of(request),
            box=user.ctx.box,
        )
    return DestinationOut(**unwrap(created))


@router.get("/me/payout-destinations", response_model=list[DestinationOut])
def list_destinations(user: User) -> list[DestinationOut]:
    with user.ctx.db.uow(write=False) as conn:
        return [DestinationOut(**d) for d in withdrawals.list_destinations(conn, user.user_id)]


@router.delete("/me/payout-destinations/{destination_id}", status_code=204)
def remove_destination(destination_id: Id, user: User, request: Request) -> None:
    with user.ctx.db.uow() as conn:
        withdrawals.remove_destination(
            conn,
            user_id=user.user_id,
            destination_id=destination_id,
            risk=user.ctx.risk,
            presence=presence_of(request),
            now_ns=user.ctx.ledger.clock.now_ns(),
        )


# -- withdrawals ----------------------------------------------------------------------------------------
@router.post("/me/withdrawals", response_model=WithdrawalOut)
def request_withdrawal(
    body: WithdrawalIn, user: User, key: IdempotencyKey, request: Request
) -> WithdrawalOut:
    """Withdraw to a destination. The money is held first, then the provider is called; the answer says
    where it stands (`paid`, `failed`, or `processing` / `unknown` until the provider's result is in;
    `in_review` while a reviewer looks at it). Risk screening may refuse it (403 `risk-denied`: nothing
    held; a retry with the same key gets the same answer)."""
    ctx = user.ctx
    result = withdrawals.request_withdrawal(
        ctx.db,
        ctx.ledger,
        provider_of(request),
        idempotency_key=key,
        user_id=user.user_id,
        destination_id=body.destination_id,
        currency_code=body.currency,
        amount=body.amount,
        limits=withdrawals.Limits.from_settings(ctx.settings),
        risk=ctx.risk,
        presence=presence_of(request),
        box=ctx.box,
    )
    return WithdrawalOut.of(result)


@router.get("/me/withdrawals", response_model=list[WithdrawalOut])
def list_withdrawals(
    user: User, limit: Annotated[int, Query(ge=1, le=withdrawals.LIST_MAX)] = 50
) -> list[WithdrawalOut]:
    with user.ctx.db.uow(write=False) as conn:
        return [WithdrawalOut.of(d) for d in withdrawals.list_withdrawals(conn, user.user_id, limit=limit)]


@router.get("/me/withdrawals/{withdrawal_id}", response_model=WithdrawalOut)
def show_withdrawal(withdrawal_id: Id, user: User) -> WithdrawalOut:
    with user.ctx.db.uow(write=False) as conn:
        return WithdrawalOut.of(withdrawals.get_withdrawal(conn, user.user_id, withdrawal_id))


@router.post("/admin/withdrawals/resolve")
def resolve_withdrawals(ctx: Admin, request: Request) -> dict[str, int]:
    """Ask the provider about withdrawals whose outcome is unknown and apply the answers (the worker
    does this continuously)."""
    report = withdrawals.resolve_unknown(
        ctx.db,
        ctx.ledger,
        provider_of(request),
        stale_after_ns=ctx.settings.payout_stale_after_s * 1_000_000_000,
        box=ctx.box,
    )
    return report.as_dict()


@router.post("/payouts/callbacks", response_model=WithdrawalOut)
async def provider_callback(
    request: Request, signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None
) -> WithdrawalOut:
    """The payout provider reports a result (signed with the shared secret). Repeats are harmless."""
    ctx = app_context(request)
    secret = ctx.settings.payout_callback_secret
    body = await request.body()
    if secret is None or not signature_matches(secret.get_secret_value(), body, signature):
        raise ProblemError(401, "unauthorized", "Invalid callback signature")
    try:
        parsed = bounds.loads(body)
        answer = PayoutAnswer.parse(parsed, str(parsed.get("request_id")))
    except (ValueError, AttributeError, PayoutUnknownError) as exc:
        raise ProblemError(422, "invalid-request", "Unreadable callback") from exc
    return WithdrawalOut.of(await run_in_threadpool(_apply, ctx.db, ctx.ledger, answer))


def _apply(db: Database, ledger: LedgerService, answer: PayoutAnswer) -> Withdrawal:
    with db.uow() as conn:
        return withdrawals.apply_answer(conn, ledger, answer)


# -- donations ------------------------------------------------------------------------------------------
@router.post("/admin/charities/{charity_id}/campaigns", response_model=CampaignOut, status_code=201)
def create_campaign(charity_id: Id, body: CampaignIn, ctx: Admin) -> CampaignOut:
    """Open a fundraising campaign for a charity partner."""
    with ctx.db.uow() as conn:
        created = donations.create_campaign(
            conn,
            ctx.ledger,
            charity_id=charity_id,
            name=body.name,
            currency_code=body.currency,
            goal=body.goal,
            starts_at_ns=to_ns(body.starts_at),
            ends_at_ns=to_ns(body.ends_at),
        )
    return CampaignOut.of(created)


@router.get("/charities/{charity_id}/campaigns", response_model=list[CampaignOut])
def list_campaigns(charity_id: Id, request: Request) -> list[CampaignOut]:
    """A charity's campaigns with their progress (public)."""
    ctx = app_context(request)
    with ctx.db.uow(write=False) as conn:
        return [CampaignOut.of(c) for c in donations.list_campaigns(conn, ctx.ledger, charity_id)]


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
def campaign_progress(campaign_id: Id, request: Request) -> CampaignOut:
    """Raised so far, number of donations and the goal (public)."""
    ctx = app_context(request)
    with ctx.db.uow(write=False) as conn:
        return CampaignOut.of(donations.campaign_progress(conn, ctx.ledger, campaign_id))


@router.post("/me/donations", response_model=DonationOut, status_code=201)
def donate(body: DonationIn, user: User, key: IdempotencyKey) -> DonationOut:
    """Donate any amount (≥ 1 minor unit, in the campaign's currency) to an active campaign."""
    with user.ctx.db.uow() as conn:
        result = donations.donate(
            conn,
            user.ctx.ledger,
            idempotency_key=key,
            user_id=user.user_id,
            campaign_id=body.campaign_id,
            amount=body.amount,
        )
    return DonationOut(
        **{k: v for k, v in result.items() if k not in ("created_at_ns", "transfer_id")},
        created_at=from_ns(result["created_at_ns"]),
    )


@router.get("/charities/{charity_id}/statement", response_model=StatementOut)
def charity_statement(
    charity_id: Id,
    request: Request,
    currency: Annotated[str, Query(min_length=3, max_length=3, pattern="^[A-Za-z]{3}$")],
    limit: Annotated[int, Query(ge=1, le=donations.STATEMENT_PAGE_MAX)] = 50,
    before: Annotated[int, Query(ge=0, le=(1 << 63) - 1)] = 0,
) -> StatementOut:
    """Public statement of a charity: every donation (donors masked) and the ledger balance it
    reconciles to."""
    ctx = app_context(request)
    with ctx.db.uow(write=False) as conn:
        s = donations.statement(
            conn, ctx.ledger, charity_id=charity_id, currency_code=currency, limit=limit, before_id=before
        )
    lines = [
        StatementLine(
            donation_id=d["donation_id"],
            campaign_id=d["campaign_id"],
            amount=d["amount"],
            donor=d["donor"],
            at=from_ns(d["created_at_ns"]),
        )
        for d in s["donations"]
    ]
    return StatementOut(**{k: v for k, v in s.items() if k != "donations"}, donations=lines)
