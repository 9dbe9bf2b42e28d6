"""``/v1`` escrow (guaranteed trades) and deposit holds.

Escrow: the merchant (``X-Api-Key``) opens a trade, the buyer (user token) pays and confirms, the merchant
marks it sent; either may cancel within the rules of :mod:`earnloop.wallet.escrow.service`; an operator
resolves disputes. Holds: the merchant requests, captures and releases deposits whose amounts come from
policies that an operator manages; a request holds money only once the user approves it (or at once under the
user's mandate, ``use_mandate``: see :mod:`earnloop.api.mandates`); users list, approve and decline
their holds (their wallets show held money as ``held``). Operators (``/v1/admin/holds``) place holds
directly, without the user's approval: they are the operator.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from earnloop.api.context import AppContext
from earnloop.api.deps import Admin, IdempotencyKey, PartnerAuth, User
from earnloop.api.problems import problem_responses
from earnloop.api.types import CurrencyPath, Id, QueryId
from earnloop.wallet.escrow import service as escrow
from earnloop.wallet.escrow.schemas import TradeOut
from earnloop.wallet.escrow.service import ADMIN, Actor
from earnloop.wallet.holds import service as holds
from earnloop.wallet.holds.schemas import HoldOut
from earnloop.wallet.schemas import Amount, CurrencyCode, Strict, from_ns

escrow_router = APIRouter(prefix="/v1", tags=["escrow"], responses=problem_responses(401, 403, 404, 409, 422))
holds_router = APIRouter(
    prefix="/v1", tags=["deposit holds"], responses=problem_responses(401, 403, 404, 409, 422)
)

TradeId = Annotated[str, Path(min_length=1, max_length=40)]
HoldId = Annotated[str, Path(min_length=1, max_length=40)]
Product = Annotated[str, Path(min_length=1, max_length=holds.PRODUCT_MAX_LEN)]
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


# -- hold shapes -----------------------------------------------------------------------------------
class PolicyIn(Strict):
    partner_id: int = Field(ge=1, description="The merchant whose product this is.")
    amount: int = Amount
    min_credit_score: int | None = Field(
        default=None,
        ge=0,
        le=holds.CREDIT_SCORE_MAX,
        description="Reserved: users at or above this score will need no deposit (not applied yet).",
    )


class PolicyOut(BaseModel):
    product: str
    currency: str
    partner_id: int
    amount: int
    min_credit_score: int | None
    updated_at: datetime


class OverrideIn(Strict):
    amount: int = Amount
    reason: str = Field(min_length=1, max_length=500)


class OverrideOut(BaseModel):
    product: str
    currency: str
    user_id: int
    amount: int
    reason: str


class AdminHoldIn(Strict):
    product: str = Field(min_length=1, max_length=holds.PRODUCT_MAX_LEN)
    user_id: int = Field(ge=1)
    currency: str = CurrencyCode
    ref: str = Field(min_length=1, max_length=escrow.REF_MAX_LEN, description="The merchant's own id.")
    expires_in_s: int = Field(
        default=holds.EXPIRY_DEFAULT_S,
        ge=holds.EXPIRY_MIN_S,
        le=holds.EXPIRY_MAX_S,
        description="How long the deposit is held once the hold takes effect (then released by itself).",
    )


class HoldIn(AdminHoldIn):
    approve_within_s: int = Field(
        default=holds.APPROVE_WITHIN_DEFAULT_S,
        ge=holds.APPROVE_WITHIN_MIN_S,
        le=holds.APPROVE_WITHIN_MAX_S,
        description="How long the user has to approve the request (ignored under a mandate).",
    )
    use_mandate: bool = Field(
        default=False,
        description="Take effect at once under a mandate the user granted you, or be refused (403 "
        "no-mandate, 422 mandate-limit-exceeded); otherwise the hold waits for the user's approval.",
    )


class CaptureIn(Strict):
    amount: int = Field(gt=0, le=1 << 62, description="Minor units to charge (≤ held); the rest is released.")
    reason: str = Field(min_length=1, max_length=500)


def _policy_out(p: dict[str, Any]) -> PolicyOut:
    return PolicyOut(
        **{k: v for k, v in p.items() if k != "updated_at_ns"}, updated_at=from_ns(p["updated_at_ns"])
    )


# -- holds: operator -------------------------------------------------------------------------------
@holds_router.put("/admin/deposit-policies/{product}/{currency}", response_model=PolicyOut)
def put_policy(product: Product, currency: CurrencyPath, body: PolicyIn, ctx: Admin) -> PolicyOut:
    """Create or replace the deposit amount of a merchant's product in a currency."""
    with ctx.db.uow() as conn:
        policy = holds.set_policy(
            conn,
            product=product,
            currency_code=currency,
            partner_id=body.partner_id,
            amount=body.amount,
            min_credit_score=body.min_credit_score,
        )
    return _policy_out(policy)


@holds_router.get("/admin/deposit-policies", response_model=list[PolicyOut])
def get_policies(ctx: Admin, partner_id: QueryId = None) -> list[PolicyOut]:
    with ctx.db.uow(write=False) as conn:
        return [_policy_out(p) for p in holds.list_policies(conn, partner_id=partner_id)]


@holds_router.put(
    "/admin/deposit-policies/{product}/{currency}/overrides/{user_id}", response_model=OverrideOut
)
def put_override(
    product: Product,
    currency: CurrencyPath,
    user_id: Id,
    body: OverrideIn,
    ctx: Admin,
) -> OverrideOut:
    """A per-user deposit amount (replaces the policy's for this user)."""
    with ctx.db.uow() as conn:
        o = holds.set_override(
            conn,
            product=product,
            currency_code=currency,
            user_id=user_id,
            amount=body.amount,
            reason=body.reason,
        )
    return OverrideOut(**{k: v for k, v in o.items() if k != "updated_at_ns"})


@holds_router.delete("/admin/deposit-policies/{product}/{currency}/overrides/{user_id}", status_code=204)
def delete_override(product: Product, currency: CurrencyPath, user_id: Id, ctx: Admin) -> Response:
    with ctx.db.uow() as conn:
        holds.delete_override(conn, product=product, currency_code=currency, user_id=user_id)
    return Response(status_code=204)


# -- holds: merchant (and operator) ----------------------------------------------------------------
def _request(ctx: AppContext, merchant_id: int, body: HoldIn, key: str) -> HoldOut:
    with ctx.db.uow() as conn:
        hold = holds.request_hold(
            conn,
            ctx.ledger,
            idempotency_key=key,
            merchant_id=merchant_id,
            product=body.product,
            user_id=body.user_id,
            currency_code=body.currency,
            ref=body.ref,
            expires_in_s=body.expires_in_s,
            approve_within_s=body.approve_within_s,
            use_mandate=body.use_mandate,
        )
    return HoldOut.of(hold)


def _place(ctx: AppContext, body: AdminHoldIn, key: str) -> HoldOut:
    with ctx.db.uow() as conn:
        hold = holds.place_hold(
            conn,
            ctx.ledger,
            idempotency_key=key,
            actor=ADMIN,
            product=body.product,
            user_id=body.user_id,
            currency_code=body.currency,
            ref=body.ref,
            expires_in_s=body.expires_in_s,
        )
    return HoldOut.of(hold)


def _capture(ctx: AppContext, actor: Actor, hold_id: str, body: CaptureIn, key: str) -> HoldOut:
    with ctx.db.uow() as conn:
        hold = holds.capture(
            conn,
            ctx.ledger,
            idempotency_key=key,
            hold_id=hold_id,
            actor=actor,
            amount=body.amount,
            reason=body.reason,
        )
    return HoldOut.of(hold)


def _release(ctx: AppContext, actor: Actor, hold_id: str, key: str) -> HoldOut:
    with ctx.db.uow() as conn:
        return HoldOut.of(holds.release(conn, ctx.ledger, idempotency_key=key, hold_id=hold_id, actor=actor))


def _show(ctx: AppContext, actor: Actor, hold_id: str) -> HoldOut:
    with ctx.db.uow(write=False) as conn:
        return HoldOut.of(holds.get_hold(conn, ctx.ledger, hold_id, actor=actor))


@holds_router.post("/partner/holds", response_model=HoldOut, status_code=201)
def partner_place(body: HoldIn, partner: PartnerAuth, key: IdempotencyKey) -> HoldOut:
    """Ask to hold the product's deposit from the user's wallet: a request (`requested`, nothing moves)
    until the user approves it, or held at once under the user's mandate (`use_mandate`)."""
    return _request(partner.ctx, partner.partner.id, body, key)


@holds_router.get("/partner/holds/{hold_id}", response_model=HoldOut)
def partner_show(hold_id: HoldId, partner: PartnerAuth) -> HoldOut:
    return _show(partner.ctx, Actor("merchant", partner.partner.id), hold_id)


@holds_router.post("/partner/holds/{hold_id}/capture", response_model=HoldOut)
def partner_capture(hold_id: HoldId, body: CaptureIn, partner: PartnerAuth, key: IdempotencyKey) -> HoldOut:
    """Charge part or all of the deposit; the rest is released at once."""
    return _capture(partner.ctx, Actor("merchant", partner.partner.id), hold_id, body, key)


@holds_router.post("/partner/holds/{hold_id}/release", response_model=HoldOut)
def partner_release(hold_id: HoldId, partner: PartnerAuth, key: IdempotencyKey) -> HoldOut:
    """Give the whole deposit back."""
    return _release(partner.ctx, Actor("merchant", partner.partner.id), hold_id, key)


@holds_router.post("/admin/holds", response_model=HoldOut, status_code=201)
def admin_place(body: AdminHoldIn, ctx: Admin, key: IdempotencyKey) -> HoldOut:
    """Place a hold for the merchant that owns the product's policy, at once: an operator needs no
    approval from the user."""
    return _place(ctx, body, key)


@holds_router.get("/admin/holds/{hold_id}", response_model=HoldOut)
def admin_show(hold_id: HoldId, ctx: Admin) -> HoldOut:
    return _show(ctx, ADMIN, hold_id)


@holds_router.post("/admin/holds/{hold_id}/capture", response_model=HoldOut)
def admin_capture(hold_id: HoldId, body: CaptureIn, ctx: Admin, key: IdempotencyKey) -> HoldOut:
    return _capture(ctx, ADMIN, hold_id, body, key)


@holds_router.post("/admin/holds/{hold_id}/release", response_model=HoldOut)
def admin_release(hold_id: HoldId, ctx: Admin, key: IdempotencyKey) -> HoldOut:
    return _release(ctx, ADMIN, hold_id, key)


# -- holds: user -----------------------------------------------------------------------------------
@holds_router.get("/me/holds", response_model=list[HoldOut])
def my_holds(user: User, limit: Limit = 50) -> list[HoldOut]:
    """Deposits held from the signed-in user's wallets (newest first)."""
    with user.ctx.db.uow(write=False) as conn:
        return [
            HoldOut.of(h) for h in holds.list_user_holds(conn, user.ctx.ledger, user.user_id, limit=limit)
        ]


@holds_router.get("/me/holds/{hold_id}", response_model=HoldOut)
def my_hold(hold_id: HoldId, user: User) -> HoldOut:
    return _show(user.ctx, Actor("buyer", user.user_id), hold_id)


@holds_router.post("/me/holds/{hold_id}/approve", response_model=HoldOut)
def approve_hold(hold_id: HoldId, user: User, key: IdempotencyKey) -> HoldOut:
    """Approve a merchant's hold request: its deposit is held from your wallet from now on."""
    with user.ctx.db.uow() as conn:
        hold = holds.approve(
            conn, user.ctx.ledger, idempotency_key=key, hold_id=hold_id, user_id=user.user_id
        )
    return HoldOut.of(hold)


@holds_router.post("/me/holds/{hold_id}/decline", response_model=HoldOut)
def decline_hold(hold_id: HoldId, user: User, key: IdempotencyKey) -> HoldOut:
    """Decline a merchant's hold request (nothing is held)."""
    with user.ctx.db.uow() as conn:
        hold = holds.decline(
            conn, user.ctx.ledger, idempotency_key=key, hold_id=hold_id, user_id=user.user_id
        )
    return HoldOut.of(hold)
