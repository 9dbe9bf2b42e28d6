"""``/v1`` payments and FX: merchants present orders, charge pay codes and refund (``X-Api-Key``); users
confirm orders, get pay codes and convert currencies (user token); operators set FX rates and fees."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import Field

from earnloop.api.context import run_write
from earnloop.api.deps import Admin, IdempotencyKey, PartnerAuth, User
from earnloop.api.inbound import client_ip
from earnloop.api.problems import problem_responses
from earnloop.api.tracking import DEVICE_HEADER
from earnloop.wallet.fx import service as fx
from earnloop.wallet.fx.schemas import Rate
from earnloop.wallet.pay import service as pay
from earnloop.wallet.pay.schemas import Order
from earnloop.wallet.schemas import AMOUNT_MAX, Amount, CurrencyCode, Strict, from_ns, to_ns
from earnloop.wallet.screening import Presence, keep_refusal, unwrap

router = APIRouter(prefix="/v1", tags=["pay"], responses=problem_responses(401, 403, 404, 409, 422))

MerchantOrderId = Annotated[str, Path(min_length=1, max_length=100, pattern=pay.ORDER_ID_RE.pattern)]
OrderToken = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=pay.ORDER_TOKEN_RE.pattern,
        description="The order's token (`order_id` in the merchant's answer; the QR code carries it).",
    ),
]


# -- shapes -------------------------------------------------------------------------------------------
class OrderIn(Strict):
    order_id: str = Field(
        min_length=1, max_length=100, pattern=pay.ORDER_ID_RE.pattern, description="Your order id."
    )
    amount: int = Amount
    currency: str | None = Field(
        default=None, min_length=3, max_length=3, description="Must be your settlement currency."
    )
    ttl_s: int = Field(default=pay.ORDER_TTL_S, ge=pay.ORDER_TTL_MIN_S, le=pay.ORDER_TTL_MAX_S)
    payer_user_id: int | None = Field(
        default=None, ge=1, le=(1 << 63) - 1, description="Only this user can see and pay the order."
    )


class OrderOut(Strict):
    order_id: str = Field(
        description="The platform's id of the order: a random token (128 bits) that the user confirms; "
        "put it in the QR code or pay link."
    )
    merchant_id: int
    payer_user_id: int | None = Field(default=None, description="The one user who may pay, if named.")
    merchant_order_id: str
    merchant_name: str | None = None
    amount: int
    currency: str
    fee: int
    fee_bps: int
    state: str = Field(description="awaiting_user, paid, partially_refunded, refunded or expired.")
    source: str = Field(description="order (merchant QR) or code (user pay code).")
    user_id: int | None
    pay_currency: str | None = Field(description="The wallet the user paid from.")
    pay_amount: int | None = Field(description="Debited from that wallet (differs after FX).")
    refunded: int
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None

    @classmethod
    def of(cls, order: Order) -> OrderOut:
        hidden = {
            "order_id",
            "token",
            "created_at_ns",
            "expires_at_ns",
            "paid_at_ns",
        }  # the serial id stays in
        paid = order["paid_at_ns"]
        return cls(
            **{k: v for k, v in order.items() if k not in hidden},
            order_id=order["token"],
            created_at=from_ns(order["created_at_ns"]),
            expires_at=from_ns(order["expires_at_ns"]),
            paid_at=None if paid is None else from_ns(paid),
        )


class ConfirmIn(Strict):
    currency: str | None = Field(
        default=None, min_length=3, max_length=3, description="Wallet to pay from (default: the order's)."
    )


class RefundIn(Strict):
    amount: int | None = Field(default=None, gt=0, le=AMOUNT_MAX, description="Default: all the rest.")
    reason: str = Field(default="", max_length=pay.REASON_MAX_LEN)


class RefundOut(Strict):
    refund_id: int
    amount: int
    fee_part: int = Field(description="Part of the refund taken back from the platform fee.")
    pay_part: int = Field(description="What reached the user's wallet, in its currency.")
    order: OrderOut


class PayCodeIn(Strict):
    currency: str = CurrencyCode
    max_amount: int | None = Field(
        default=None,
        strict=True,
        gt=0,
        le=AMOUNT_MAX,
        description="The most a charge may take from the wallet, in its minor units (default: no cap).",
    )


class PayCodeOut(Strict):
    code: str = Field(description="Shown once; single use; show it at the till.")
    currency: str
    expires_at: datetime
    max_amount: int | None = Field(description="The most a charge may take (null: no cap).")


class ChargeIn(Strict):
    code: str = Field(min_length=1, max_length=64)
    order_id: str = Field(min_length=1, max_length=100, pattern=pay.ORDER_ID_RE.pattern)
    amount: int = Amount
    currency: str | None = Field(default=None, min_length=3, max_length=3)


class SettlementOut(Strict):
    merchant_id: int
    currency: str
    balance: int


class FeeIn(Strict):
    fee_bps: int = Field(ge=0, le=pay.FEE_MAX_BPS)


class FeeOut(Strict):
    merchant_id: int
    fee_bps: int


class RateIn(Strict):
    base: str = CurrencyCode
    quote: str = CurrencyCode
    rate: str = Field(
        pattern=fx.RATE_RE.pattern, description="Exact decimal: 1 base = rate quote (major units)."
    )
    spread_bps: int = Field(default=fx.DEFAULT_SPREAD_BPS, ge=0, le=fx.SPREAD_MAX_BPS)
    valid_from: datetime | None = Field(default=None, description="Default: now.")


class RateOut(Strict):
    rate_id: int
    base: str
    quote: str
    rate: str
    spread_bps: int
    valid_from: datetime

    @classmethod
    def of(cls, row: Rate) -> RateOut:
        return cls(
            **{k: v for k, v in row.items() if k != "valid_from_ns"}, valid_from=from_ns(row["valid_from_ns"])
        )


class QuoteOut(Strict):
    from_currency: str
    to_currency: str
    amount_from: int
    amount_to: int = Field(description="Floored: what the conversion would credit.")
    rate_id: int
    rate: str
    spread_bps: int


class ConversionIn(Strict):
    from_currency: str = CurrencyCode
    to_currency: str = CurrencyCode
    amount: int = Amount


class ConversionOut(QuoteOut):
    conversion_id: int
    user_id: int


# -- merchants ----------------------------------------------------------------------------------------
@router.post("/merchant/orders", response_model=OrderOut)
async def create_order(body: OrderIn, partner: PartnerAuth) -> OrderOut:
    """Present an order; the same order id and body again returns the same order."""
    ctx = partner.ctx
    order = await run_write(
        ctx,
        lambda conn: pay.create_order(
            conn,
            ctx.ledger,
            merchant_id=partner.partner.id,
            merchant_order_id=body.order_id,
            amount=body.amount,
            currency_code=body.currency,
            ttl_s=body.ttl_s,
            payer_user_id=body.payer_user_id,
        ),
    )
    return OrderOut.of(order)


@router.get("/merchant/orders/{order_id}", response_model=OrderOut)
def show_merchant_order(order_id: MerchantOrderId, partner: PartnerAuth) -> OrderOut:
    """One of your orders, by your order id, in its current state."""
    with partner.ctx.db.uow(write=False) as conn:
        return OrderOut.of(
            pay.merchant_order(
                conn, partner.ctx.ledger, merchant_id=partner.partner.id, merchant_order_id=order_id
            )
        )


@router.post("/merchant/orders/{order_id}/refunds", response_model=RefundOut)
async def refund_order(
    order_id: MerchantOrderId, body: RefundIn, partner: PartnerAuth, key: IdempotencyKey
) -> RefundOut:
    """Refund part or all of a paid order; all refunds together never exceed the payment."""
    ctx = partner.ctx
    answer = await run_write(
        ctx,
        lambda conn: pay.refund(
            conn,
            ctx.ledger,
            idempotency_key=key,
            merchant_id=partner.partner.id,
            merchant_order_id=order_id,
            amount=body.amount,
            reason=body.reason,
        ),
    )
    return RefundOut(**{**answer, "order": OrderOut.of(answer["order"])})


@router.post("/merchant/pay-codes/charge", response_model=OrderOut)
async def charge_pay_code(body: ChargeIn, partner: PartnerAuth, key: IdempotencyKey) -> OrderOut:
    """Charge a customer's one-time pay code: the order is created and paid at once — unless risk
    screening refuses it (403 `risk-denied`, or `risk-review` when it is held for a review): nothing is
    paid and the code is used up. An amount above the code's cap (what the customer authorised) is 422
    `pay-code-limit`: nothing is paid and the code stays usable for a smaller amount."""
    ctx = partner.ctx
    order = await run_write(
        ctx,
        lambda conn: keep_refusal(pay.charge_pay_code)(
            conn,
            ctx.ledger,
            idempotency_key=key,
            merchant_id=partner.partner.id,
            code=body.code,
            merchant_order_id=body.order_id,
            amount=body.amount,
            currency_code=body.currency,
            risk=ctx.risk,
        ),
    )
    return OrderOut.of(unwrap(order))


@router.get("/merchant/settlement", response_model=SettlementOut)
def settlement(partner: PartnerAuth) -> SettlementOut:
    """What the platform owes you for payments (net of fees and refunds)."""
    with partner.ctx.db.uow(write=False) as conn:
        return SettlementOut(**pay.settlement_balance(conn, partner.ctx.ledger, partner.partner.id))


# -- users --------------------------------------------------------------------------------------------
@router.get("/me/orders/{order_id}", response_model=OrderOut)
def show_order(order_id: OrderToken, user: User) -> OrderOut:
    """An order to pay (from the merchant's QR), or one you paid; an order meant for another payer is
    404."""
    with user.ctx.db.uow(write=False) as conn:
        return OrderOut.of(pay.user_order(conn, user.ctx.ledger, user_id=user.user_id, token=order_id))


@router.post("/me/orders/{order_id}/confirm", response_model=OrderOut)
async def confirm_order(
    order_id: OrderToken, user: User, key: IdempotencyKey, request: Request, body: ConfirmIn | None = None
) -> OrderOut:
    """Pay an order from your wallet (a wallet in another currency converts at the current rate). Risk
    screening may refuse it (403 `risk-denied`, or `risk-review` when held for a review): nothing is
    paid, and a retry with the same key gets the same answer."""
    ctx = user.ctx
    presence = Presence(client_ip(request), request.headers.get(DEVICE_HEADER))
    order = await run_write(
        ctx,
        lambda conn: keep_refusal(pay.confirm)(
            conn,
            ctx.ledger,
            idempotency_key=key,
            user_id=user.user_id,
            token=order_id,
            pay_currency=body.currency if body else None,
            risk=ctx.risk,
            presence=presence,
        ),
    )
    return OrderOut.of(unwrap(order))


@router.post("/me/pay-codes", response_model=PayCodeOut, status_code=201)
def issue_pay_code(body: PayCodeIn, user: User) -> PayCodeOut:
    """A one-time code (valid two minutes) a merchant can charge to your wallet, up to `max_amount` when
    given."""
    ctx = user.ctx
    with ctx.db.uow() as conn:
        issued = pay.issue_pay_code(
            conn, ctx.ledger, user_id=user.user_id, currency_code=body.currency, max_amount=body.max_amount
        )
    return PayCodeOut(
        code=issued["code"],
        currency=issued["currency"],
        expires_at=from_ns(issued["expires_at_ns"]),
        max_amount=issued["max_amount"],
    )


@router.get("/fx/quote", response_model=QuoteOut, tags=["fx"])
def fx_quote(
    user: User,
    from_currency: Annotated[str, Query(alias="from", min_length=3, max_length=3)],
    to_currency: Annotated[str, Query(alias="to", min_length=3, max_length=3)],
    amount: Annotated[int, Query(gt=0, le=AMOUNT_MAX)],
) -> QuoteOut:
    """What a conversion would give now (nothing moves)."""
    with user.ctx.db.uow(write=False) as conn:
        quote = fx.quote_amounts(
            conn,
            from_currency=from_currency,
            to_currency=to_currency,
            amount=amount,
            now_ns=user.ctx.ledger.clock.now_ns(),
        )
    return QuoteOut(**quote)


@router.post("/me/fx/conversions", response_model=ConversionOut, tags=["fx"])
def convert(body: ConversionIn, user: User, key: IdempotencyKey) -> ConversionOut:
    """Convert money between two of your wallets at the current rate, minus the spread."""
    ctx = user.ctx
    with ctx.db.uow() as conn:
        answer = fx.convert(
            conn,
            ctx.ledger,
            idempotency_key=key,
            user_id=user.user_id,
            from_currency=body.from_currency,
            to_currency=body.to_currency,
            amount=body.amount,
        )
    return ConversionOut(**answer)


# -- operators ----------------------------------------------------------------------------------------
@router.post("/admin/fx/rates", response_model=RateOut, tags=["fx"])
def set_rate(body: RateIn, ctx: Admin) -> RateOut:
    """Record a rate from ``valid_from`` (default now); rates are history and are never edited."""
    with ctx.db.uow() as conn:
        row = fx.set_rate(
            conn,
            base=body.base,
            quote=body.quote,
            rate=body.rate,
            spread_bps=body.spread_bps,
            valid_from_ns=ctx.ledger.clock.now_ns() if body.valid_from is None else to_ns(body.valid_from),
            actor="admin-token",
        )
    return RateOut.of(row)


@router.get("/admin/fx/rates", response_model=list[RateOut], tags=["fx"])
def list_rates(ctx: Admin, limit: Annotated[int, Query(ge=1, le=fx.RATES_PAGE_MAX)] = 50) -> list[RateOut]:
    """Rates per pair, newest first."""
    with ctx.db.uow(write=False) as conn:
        return [RateOut.of(r) for r in fx.list_rates(conn, limit=limit)]


@router.put("/admin/merchants/{merchant_id}/pay-settings", response_model=FeeOut)
def set_fee(merchant_id: Annotated[int, Path(ge=1, le=(1 << 63) - 1)], body: FeeIn, ctx: Admin) -> FeeOut:
    """A merchant's fee rate in basis points (orders created from now on)."""
    with ctx.db.uow() as conn:
        return FeeOut(**pay.set_fee(conn, merchant_id=merchant_id, fee_bps=body.fee_bps))
