"""``/v1`` deposit holds: the merchant (``X-Api-Key``) requests, captures and releases deposits whose
amounts come from policies that an operator manages; a request holds money only once the user approves
it (or at once under the user's mandate, ``use_mandate``: see :mod:`earnloop.api.mandates`); users list,
approve and decline their holds (their wallets show held money as ``held``). A request for a user whose
credit score reaches the policy's ``min_credit_score`` (or falls in a deposit-free band) is ``waived``:
the API asks credit and passes its decision to the wallet (:mod:`earnloop.wallet.holds.waivers`). Operators
(``/v1/admin/holds``) place holds directly, without the user's approval: they are the operator.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from earnloop.api.context import AppContext
from earnloop.api.deps import Admin, IdempotencyKey, PartnerAuth, User
from earnloop.api.problems import problem_responses
from earnloop.api.types import CurrencyPath, Id, QueryId
from earnloop.credit import service as credit
from earnloop.wallet.escrow import service as escrow
from earnloop.wallet.escrow.service import ADMIN, Actor
from earnloop.wallet.holds import service as holds
from earnloop.wallet.holds.schemas import HoldOut, Policy
from earnloop.wallet.schemas import Amount, CurrencyCode, Strict, from_ns

holds_router = APIRouter(
    prefix="/v1", tags=["deposit holds"], responses=problem_responses(401, 403, 404, 409, 422)
)

HoldId = Annotated[str, Path(min_length=1, max_length=40)]
Product = Annotated[str, Path(min_length=1, max_length=holds.PRODUCT_MAX_LEN)]
Limit = Annotated[int, Query(ge=1, le=escrow.LIST_MAX)]


# -- hold shapes -----------------------------------------------------------------------------------
class PolicyIn(Strict):
    partner_id: int = Field(ge=1, description="The merchant whose product this is.")
    amount: int = Amount
    min_credit_score: int | None = Field(
        default=None,
        ge=0,
        le=holds.CREDIT_SCORE_MAX,
        description="Users whose credit score is at least this need no deposit (the hold is `waived`).",
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


def _policy_out(p: Policy) -> PolicyOut:
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
            waiver=credit.deposit_waiver,
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
