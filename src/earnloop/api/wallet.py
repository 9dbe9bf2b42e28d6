"""``/v1`` wallet endpoints: users and partners (admin), wallets of the signed-in user, cashback and
adjustments (admin, until the earn engine calls the service directly)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from earnloop.api.deps import Admin, IdempotencyKey, User
from earnloop.api.problems import problem_responses
from earnloop.api.types import CurrencyPath, Id
from earnloop.auth import service as auth
from earnloop.wallet import service
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.chart import AccountKind
from earnloop.wallet.schemas import (
    AdjustmentIn,
    CashbackIn,
    CashbackOut,
    HistoryEntryOut,
    PartnerCreated,
    PartnerIn,
    UserCreated,
    UserIn,
    WalletOut,
    from_ns,
    to_ns,
)

router = APIRouter(prefix="/v1", tags=["wallet"], responses=problem_responses(401, 404, 409, 422))
Currency = CurrencyPath
FUNDING_KINDS = {
    "partner": AccountKind.PARTNER_FUNDING,
    "campaign": AccountKind.CAMPAIGN_BUDGET,
    "operator": AccountKind.OPERATOR_FUNDING,
}


@router.post("/users", response_model=UserCreated, status_code=201)
def create_user(body: UserIn, ctx: Admin) -> UserCreated:
    """Register a user; the token is shown once."""
    with ctx.db.uow() as conn:
        created = auth.create_user(conn, body.handle)
    return UserCreated(user_id=created.id, token=created.secret)


@router.post("/partners", response_model=PartnerCreated, status_code=201)
def create_partner(body: PartnerIn, ctx: Admin) -> PartnerCreated:
    """Register a partner (merchant, charity, …); the API key is shown once."""
    with ctx.db.uow() as conn:
        created = auth.create_partner(conn, body.name, body.kind, body.settlement_currency.upper())
    return PartnerCreated(partner_id=created.id, api_key=created.secret)


@router.post("/me/wallets/{currency}", response_model=WalletOut)
def open_wallet(currency: Currency, user: User) -> WalletOut:
    """Open (or re-open, harmlessly) the signed-in user's wallet in a currency."""
    ctx = user.ctx
    with ctx.db.uow() as conn:
        service.open_wallet(conn, ctx.ledger, user.user_id, currency)
        return WalletOut.of(service.view(conn, ctx.ledger, user.user_id, currency))


@router.get("/me/wallets/{currency}", response_model=WalletOut)
def show_wallet(currency: Currency, user: User) -> WalletOut:
    """Available, pending (with release dates), held, debt and lifetime earnings — from the ledger."""
    with user.ctx.db.uow(write=False) as conn:
        return WalletOut.of(service.view(conn, user.ctx.ledger, user.user_id, currency))


@router.get("/me/wallets/{currency}/history", response_model=list[HistoryEntryOut])
def wallet_history(
    currency: Currency,
    user: User,
    limit: Annotated[int, Query(ge=1, le=service.HISTORY_PAGE_MAX)] = 50,
    before: Annotated[int, Query(ge=0, le=(1 << 63) - 1)] = 0,
) -> list[HistoryEntryOut]:
    """Newest first, with human-readable descriptions; page with `before` = the last entry's cursor."""
    with user.ctx.db.uow(write=False) as conn:
        entries = service.history(
            conn, user.ctx.ledger, user.user_id, currency, limit=limit, before_ns=before
        )
    return [HistoryEntryOut.of(e) for e in entries]


@router.post("/admin/users/{user_id}/wallets/{currency}/adjustments")
def adjust_wallet(
    user_id: Id,
    currency: Currency,
    body: AdjustmentIn,
    ctx: Admin,
    key: IdempotencyKey,
) -> dict[str, Any]:
    """Credit or debit a wallet by hand, with a reason (recorded with who did it)."""
    with ctx.db.uow() as conn:
        return service.adjust(
            conn,
            ctx.ledger,
            idempotency_key=key,
            user_id=user_id,
            currency_code=currency,
            amount=body.amount,
            direction=body.direction,
            reason=body.reason,
            actor="admin-token",
        )


def _cashback_out(entry: dict[str, Any]) -> CashbackOut:
    return CashbackOut(
        **{k: v for k, v in entry.items() if k != "release_at_ns"}, release_at=from_ns(entry["release_at_ns"])
    )


@router.post("/admin/cashback", response_model=CashbackOut)
def credit_cashback(body: CashbackIn, ctx: Admin) -> CashbackOut:
    """Record a pending reward (idempotent on source + ref)."""
    with ctx.db.uow() as conn:
        entry = cashback.credit_pending(
            conn,
            ctx.ledger,
            source=body.source,
            ref=body.ref,
            user_id=body.user_id,
            currency_code=body.currency,
            amount=body.amount,
            release_at_ns=to_ns(body.release_at),
            funding=cashback.Funding(FUNDING_KINDS[body.funding.kind], body.funding.owner),
        )
    return _cashback_out(entry)


@router.post("/admin/cashback/{source}/{ref}/reverse", response_model=CashbackOut)
def reverse_cashback(
    source: Annotated[str, Path(max_length=32)], ref: Annotated[str, Path(max_length=200)], ctx: Admin
) -> CashbackOut:
    """Cancel a reward: void while pending, claw back once confirmed (repeating it is harmless)."""
    with ctx.db.uow() as conn:
        return _cashback_out(cashback.reverse(conn, ctx.ledger, source=source, ref=ref))
