"""``/v1`` credit line (issue 17, ADR 0034): the user (token) sees its line and statement, asks for a
quote (amount + fee) and draws at a partner merchant with it, repays from its wallet; an operator
(admin) sets a line's limit (opening it) and records a repayment by top-up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from earnloop.api.context import run_write
from earnloop.api.deps import Admin, IdempotencyKey, User
from earnloop.api.inbound import client_ip
from earnloop.api.problems import problem_responses
from earnloop.api.tracking import DEVICE_HEADER
from earnloop.api.types import Id
from earnloop.wallet.credit_line import service as credit_line
from earnloop.wallet.credit_line import standing
from earnloop.wallet.credit_line.schemas import (
    DrawIn,
    DrawOut,
    LimitIn,
    LineOut,
    QuoteIn,
    QuoteOut,
    RepayIn,
    RepayOut,
    StatementView,
)
from earnloop.wallet.credit_line.terms import Terms
from earnloop.wallet.screening import Presence, keep_refusal, unwrap

credit_line_router = APIRouter(
    prefix="/v1", tags=["credit line"], responses=problem_responses(401, 403, 404, 409, 422)
)
CurrencyQ = Annotated[
    str, Query(min_length=3, max_length=3, pattern="^[A-Za-z]{3}$", description="ISO 4217 code.")
]
UserId = Id


@credit_line_router.get("/me/credit-line", response_model=LineOut)
def show_line(user: User, currency: CurrencyQ) -> LineOut:
    """Your credit line: limit, drawn, overdue debt, what you can draw now."""
    with user.ctx.db.uow(write=False) as conn:
        return LineOut(**credit_line.view(conn, user.ctx.ledger, user.user_id, currency))


@credit_line_router.get("/me/credit-line/statement", response_model=StatementView)
def show_statement(user: User, currency: CurrencyQ) -> StatementView:
    """Your latest statement (balance due, minimum, due date, its lines) and what is not billed yet."""
    with user.ctx.db.uow(write=False) as conn:
        return StatementView.of(standing.statement(conn, user.ctx.ledger, user.user_id, currency))


@credit_line_router.post("/me/credit-line/quote", response_model=QuoteOut)
def quote(body: QuoteIn, user: User) -> QuoteOut:
    """What a draw would cost (amount, fee, total) before you confirm it; nothing moves."""
    with user.ctx.db.uow(write=False) as conn:
        return QuoteOut(
            **credit_line.quote(
                conn,
                user.ctx.ledger,
                user_id=user.user_id,
                currency_code=body.currency,
                merchant_id=body.merchant_id,
                amount=body.amount,
                terms=Terms.from_settings(user.ctx.settings),
            )
        )


@credit_line_router.post("/me/credit-line/draw", response_model=DrawOut)
async def draw(body: DrawIn, user: User, key: IdempotencyKey, request: Request) -> DrawOut:
    """Pay a partner merchant with your credit line, with the fee the quote showed (another fee now:
    409, quote again). Above the available credit: 422 `credit-limit-exceeded`; while an overdue balance
    is debt: 409 `credit-line-frozen`. Screened like a payment
    (403 `risk-denied` / `risk-review`); nothing moves when refused."""
    ctx = user.ctx
    presence = Presence(client_ip(request), request.headers.get(DEVICE_HEADER))
    drawn = await run_write(
        ctx,
        lambda conn: keep_refusal(credit_line.draw)(
            conn,
            ctx.ledger,
            idempotency_key=key,
            user_id=user.user_id,
            currency_code=body.currency,
            merchant_id=body.merchant_id,
            amount=body.amount,
            fee=body.fee,
            reference=body.reference,
            risk=ctx.risk,
            presence=presence,
            terms=Terms.from_settings(ctx.settings),
        ),
    )
    return DrawOut(**unwrap(drawn))


@credit_line_router.post("/me/credit-line/repay", response_model=RepayOut)
async def repay(body: RepayIn, user: User, key: IdempotencyKey) -> RepayOut:
    """Repay from your wallet (default: everything owed; overdue debt first); the available credit
    grows back by what you repaid."""
    ctx = user.ctx
    repaid = await run_write(
        ctx,
        lambda conn: credit_line.repay(
            conn,
            ctx.ledger,
            idempotency_key=key,
            user_id=user.user_id,
            currency_code=body.currency,
            amount=body.amount,
        ),
    )
    return RepayOut(**repaid)


@credit_line_router.put("/admin/users/{user_id}/credit-line", response_model=LineOut)
def set_limit(user_id: UserId, body: LimitIn, ctx: Admin) -> LineOut:
    """Open the user's line or set its limit (the credit domain sizes it by score band). Lowering it
    below what is owed only blocks new draws."""
    with ctx.db.uow() as conn:
        return LineOut(**credit_line.open_line(conn, ctx.ledger, user_id, body.currency, body.limit))


@credit_line_router.post("/admin/users/{user_id}/credit-line/topup", response_model=RepayOut)
async def topup(user_id: UserId, body: RepayIn, ctx: Admin, key: IdempotencyKey) -> RepayOut:
    """Record a repayment the user made by top-up (money received outside the wallet)."""
    repaid = await run_write(
        ctx,
        lambda conn: credit_line.repay(
            conn,
            ctx.ledger,
            idempotency_key=key,
            user_id=user_id,
            currency_code=body.currency,
            amount=body.amount,
            source="topup",
        ),
    )
    return RepayOut(**repaid)
