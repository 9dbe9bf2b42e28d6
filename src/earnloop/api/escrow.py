"""``/v1`` escrow (guaranteed trades); deposit holds are in :mod:`earnloop.api.holds`.

The merchant (``X-Api-Key``) opens a trade, the buyer (user token) pays and confirms, the merchant
marks it sent; either may cancel within the rules of :mod:`earnloop.wallet.escrow`; an operator resolves
disputes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field

from earnloop.api.deps import Admin, IdempotencyKey, PartnerAuth, User
from earnloop.api.problems import problem_responses
from earnloop.wallet.escrow import service as escrow
from earnloop.wallet.escrow.schemas import TradeOut
from earnloop.wallet.escrow.service import ADMIN, Actor
from earnloop.wallet.schemas import Amount, CurrencyCode, Strict

escrow_router = APIRouter(prefix="/v1", tags=["escrow"], responses=problem_responses(401, 403, 404, 409, 422))

TradeId = Annotated[str, Path(min_length=1, max_length=40)]
Limit = Annotated[int, Query(ge=1, le=escrow.LIST_MAX)]


# -- escrow shapes ---------------------------------------------------------------------------------
class TradeIn(Strict):
    trade_ref: str = Field(min_length=1, max_length=escrow.REF_MAX_LEN, description="The merchant's own id.")
    amount: int = Amount
    currency: str = CurrencyCode
    pay_timeout_s: int = Field(
        default=escrow.PAY_TIMEOUT_DEFAULT_S, ge=escrow.TIMEOUT_MIN_S, le=escrow.TIMEOUT_MAX_S
    )
    confirm_timeout_s: int = Field(
        default=escrow.CONFIRM_TIMEOUT_DEFAULT_S,
        ge=escrow.TIMEOUT_MIN_S,
        le=escrow.TIMEOUT_MAX_S,
        description="After the merchant marks the trade sent, the money is released to it automatically.",
    )


class CancelIn(Strict):
    reason: str = Field(default="cancelled", min_length=1, max_length=32)


# -- escrow: merchant ------------------------------------------------------------------------------
@escrow_router.post("/partner/escrow/trades", response_model=TradeOut, status_code=201)
def create_trade(body: TradeIn, partner: PartnerAuth, key: IdempotencyKey) -> TradeOut:
    """Open a guaranteed trade (`WAIT_BUYER_PAY`); give the buyer its `trade_id` to pay."""
    ctx = partner.ctx
    with ctx.db.uow() as conn:
        trade = escrow.create_trade(
            conn,
            ctx.ledger,
            idempotency_key=key,
            partner_id=partner.partner.id,
            trade_ref=body.trade_ref,
            currency_code=body.currency,
            amount=body.amount,
            pay_timeout_s=body.pay_timeout_s,
            confirm_timeout_s=body.confirm_timeout_s,
        )
    return TradeOut.of(trade)


@escrow_router.get("/partner/escrow/trades/{trade_id}", response_model=TradeOut)
def partner_trade(trade_id: TradeId, partner: PartnerAuth) -> TradeOut:
    with partner.ctx.db.uow(write=False) as conn:
        return TradeOut.of(escrow.get_trade(conn, trade_id, actor=Actor("merchant", partner.partner.id)))


@escrow_router.post("/partner/escrow/trades/{trade_id}/ship", response_model=TradeOut)
def ship(trade_id: TradeId, partner: PartnerAuth, key: IdempotencyKey) -> TradeOut:
    """Mark the goods sent (`WAIT_SELLER_SEND` → `WAIT_BUYER_CONFIRM`); the confirm window starts."""
    ctx = partner.ctx
    with ctx.db.uow() as conn:
        trade = escrow.mark_sent(
            conn, ctx.ledger, idempotency_key=key, trade_id=trade_id, partner_id=partner.partner.id
        )
    return TradeOut.of(trade)


@escrow_router.post("/partner/escrow/trades/{trade_id}/cancel", response_model=TradeOut)
def partner_cancel(trade_id: TradeId, body: CancelIn, partner: PartnerAuth, key: IdempotencyKey) -> TradeOut:
    """Close the trade before release; a paid trade is refunded to the buyer."""
    ctx = partner.ctx
    with ctx.db.uow() as conn:
        trade = escrow.cancel(
            conn,
            ctx.ledger,
            idempotency_key=key,
            trade_id=trade_id,
            actor=Actor("merchant", partner.partner.id),
            reason=body.reason,
        )
    return TradeOut.of(trade)


# -- escrow: buyer ---------------------------------------------------------------------------------
@escrow_router.get("/me/escrow/trades", response_model=list[TradeOut])
def my_trades(user: User, limit: Limit = 50) -> list[TradeOut]:
    """Trades the signed-in user has paid, newest first."""
    with user.ctx.db.uow(write=False) as conn:
        return [TradeOut.of(t) for t in escrow.list_buyer_trades(conn, user.user_id, limit=limit)]


@escrow_router.get("/me/escrow/trades/{trade_id}", response_model=TradeOut)
def my_trade(trade_id: TradeId, user: User) -> TradeOut:
    """A trade to pay (any signed-in user, while unpaid) or one the user has paid."""
    with user.ctx.db.uow(write=False) as conn:
        return TradeOut.of(escrow.get_trade(conn, trade_id, actor=Actor("buyer", user.user_id)))


@escrow_router.post("/me/escrow/trades/{trade_id}/pay", response_model=TradeOut)
def pay(trade_id: TradeId, user: User, key: IdempotencyKey) -> TradeOut:
    """Pay: the amount is held from the wallet until delivery is confirmed."""
    ctx = user.ctx
    with ctx.db.uow() as conn:
        trade = escrow.pay(conn, ctx.ledger, idempotency_key=key, trade_id=trade_id, user_id=user.user_id)
    return TradeOut.of(trade)


@escrow_router.post("/me/escrow/trades/{trade_id}/confirm", response_model=TradeOut)
def confirm(trade_id: TradeId, user: User, key: IdempotencyKey) -> TradeOut:
    """Confirm receipt: the held money goes to the seller."""
    ctx = user.ctx
    with ctx.db.uow() as conn:
        trade = escrow.confirm(conn, ctx.ledger, idempotency_key=key, trade_id=trade_id, user_id=user.user_id)
    return TradeOut.of(trade)


@escrow_router.post("/me/escrow/trades/{trade_id}/cancel", response_model=TradeOut)
def buyer_cancel(trade_id: TradeId, body: CancelIn, user: User, key: IdempotencyKey) -> TradeOut:
    """Cancel a paid trade the seller has not sent yet: the money comes back."""
    ctx = user.ctx
    with ctx.db.uow() as conn:
        trade = escrow.cancel(
            conn,
            ctx.ledger,
            idempotency_key=key,
            trade_id=trade_id,
            actor=Actor("buyer", user.user_id),
            reason=body.reason,
        )
    return TradeOut.of(trade)


# -- escrow: operator ------------------------------------------------------------------------------
@escrow_router.get("/admin/escrow/trades/{trade_id}", response_model=TradeOut)
def admin_trade(trade_id: TradeId, ctx: Admin) -> TradeOut:
    with ctx.db.uow(write=False) as conn:
        return TradeOut.of(escrow.get_trade(conn, trade_id, actor=ADMIN))


@escrow_router.post("/admin/escrow/trades/{trade_id}/cancel", response_model=TradeOut)
def admin_cancel(trade_id: TradeId, body: CancelIn, ctx: Admin, key: IdempotencyKey) -> TradeOut:
    """Resolve a dispute: close an open trade, refunding the buyer if it was paid."""
    with ctx.db.uow() as conn:
        trade = escrow.cancel(
            conn, ctx.ledger, idempotency_key=key, trade_id=trade_id, actor=ADMIN, reason=body.reason
        )
    return TradeOut.of(trade)
