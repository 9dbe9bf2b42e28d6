"""``earnloop pay …``: merchant payments from the command line (operators, scripts and support). Every
command prints one JSON line; errors are one line on stderr."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from earnloop.cli_support import fail, out
from earnloop.config import get_settings
from earnloop.ledger.cli import run
from earnloop.risk.engine import build_engine
from earnloop.wallet.pay import service as pay
from earnloop.wallet.screening import RiskRefusedError, keep_refusal, unwrap

pay_app = typer.Typer(help="Merchant payments: orders, confirmations, refunds, fees.", no_args_is_help=True)

MerchantId = Annotated[int, typer.Argument(min=1, help="Merchant (partner) id.")]
UserId = Annotated[int, typer.Argument(min=1, help="User id.")]
OrderRef = Annotated[str, typer.Argument(help="The merchant's order id.")]
Key = Annotated[str, typer.Option(help="Idempotency key: re-running with it changes nothing.")]


def _print(value: object) -> None:
    out.print(json.dumps(value), soft_wrap=True)


@pay_app.command("set-fee")
def set_fee(
    merchant_id: MerchantId, fee_bps: Annotated[int, typer.Argument(min=0, max=pay.FEE_MAX_BPS)]
) -> None:
    """Set a merchant's fee rate in basis points (orders created from now on)."""
    _print(run(lambda conn, _: pay.set_fee(conn, merchant_id=merchant_id, fee_bps=fee_bps)))


@pay_app.command("create-order")
def create_order(
    merchant_id: MerchantId,
    order_id: OrderRef,
    amount: Annotated[int, typer.Argument(min=1, help="Minor units.")],
    ttl_s: Annotated[int, typer.Option(help="Seconds the user has to pay.")] = pay.ORDER_TTL_S,
    payer: Annotated[int | None, typer.Option(min=1, help="Only this user may see and pay it.")] = None,
) -> None:
    """Present an order for a merchant (idempotent on the order id); its order_id is the token to pay."""
    _print(
        run(
            lambda conn, ledger: pay.create_order(
                conn,
                ledger,
                merchant_id=merchant_id,
                merchant_order_id=order_id,
                amount=amount,
                ttl_s=ttl_s,
                payer_user_id=payer,
            )
        )
    )


@pay_app.command("confirm")
def confirm(
    user_id: UserId,
    order: Annotated[str, typer.Argument(help="The order's token (as in the QR code).")],
    key: Key,
    currency: Annotated[str | None, typer.Option(help="Wallet to pay from (default: the order's).")] = None,
) -> None:
    """Pay an order on a user's behalf (support, scripts); screened like the user's own payment."""
    risk = build_engine(get_settings())
    kept = run(
        lambda conn, ledger: keep_refusal(pay.confirm)(
            conn, ledger, idempotency_key=key, user_id=user_id, token=order, pay_currency=currency, risk=risk
        )
    )
    try:
        _print(unwrap(kept))
    except RiskRefusedError as refused:  # committed: a retry with the key gets it again
        fail(str(refused))


@pay_app.command("refund")
def refund(
    merchant_id: MerchantId,
    order_id: OrderRef,
    key: Key,
    amount: Annotated[int | None, typer.Option(min=1, help="Minor units (default: all the rest).")] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded).")] = "",
) -> None:
    """Refund part or all of a paid order."""
    _print(
        run(
            lambda conn, ledger: pay.refund(
                conn,
                ledger,
                idempotency_key=key,
                merchant_id=merchant_id,
                merchant_order_id=order_id,
                amount=amount,
                reason=reason,
            )
        )
    )


@pay_app.command("show")
def show(merchant_id: MerchantId, order_id: OrderRef) -> None:
    """An order by the merchant's id, in its current state."""
    _print(
        run(
            lambda conn, ledger: pay.merchant_order(
                conn, ledger, merchant_id=merchant_id, merchant_order_id=order_id
            ),
            write=False,
        )
    )


@pay_app.command("settlement")
def settlement(merchant_id: MerchantId) -> None:
    """What the platform owes a merchant."""
    _print(run(lambda conn, ledger: pay.settlement_balance(conn, ledger, merchant_id), write=False))


@pay_app.command("expire-orders")
def expire_orders() -> None:
    """Mark unpaid orders past their expiry as expired."""
    count = run(lambda conn, ledger: pay.expire_due_orders(conn, ledger.clock.now_ns()))
    _print({"expired": count})


def register(app: typer.Typer) -> None:
    app.add_typer(pay_app, name="pay")
