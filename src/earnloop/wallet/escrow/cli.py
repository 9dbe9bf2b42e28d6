"""``earnloop escrow …``: guaranteed trades from the command line (operators and scripts). Commands that act
for a merchant or a user say so with ``--partner`` / ``--user``; the others act as an operator. Every
money-moving command takes ``--key``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from earnloop.cli_support import out
from earnloop.ledger.cli import run
from earnloop.wallet.escrow import service as escrow
from earnloop.wallet.escrow.service import ADMIN

escrow_app = typer.Typer(
    help="Escrow (guaranteed trades): create, pay, ship, confirm, cancel.", no_args_is_help=True
)

Key = Annotated[str, typer.Option(help="Idempotency key: re-running with it changes nothing.")]
TradeId = Annotated[str, typer.Argument(help="Trade id (tr_…).")]
PartnerOpt = Annotated[int, typer.Option("--partner", min=1, help="Merchant partner id to act as.")]
UserOpt = Annotated[int, typer.Option("--user", min=1, help="User id to act as (the buyer).")]


def _print(value: object) -> None:
    out.print(json.dumps(value), soft_wrap=True)


@escrow_app.command("create")
def create(
    trade_ref: str,
    amount: Annotated[int, typer.Argument(min=1, help="Minor units.")],
    currency: str,
    partner: PartnerOpt,
    key: Key,
    pay_timeout_s: Annotated[int, typer.Option(help="Unpaid trades close after this.")] = (
        escrow.PAY_TIMEOUT_DEFAULT_S
    ),
    confirm_timeout_s: Annotated[int, typer.Option(help="Released to the seller this long after sent.")] = (
        escrow.CONFIRM_TIMEOUT_DEFAULT_S
    ),
) -> None:
    """Open a trade for a merchant (WAIT_BUYER_PAY)."""
    _print(
        run(
            lambda conn, ledger: escrow.create_trade(
                conn,
                ledger,
                idempotency_key=key,
                partner_id=partner,
                trade_ref=trade_ref,
                currency_code=currency,
                amount=amount,
                pay_timeout_s=pay_timeout_s,
                confirm_timeout_s=confirm_timeout_s,
            )
        )
    )


@escrow_app.command("show")
def show(trade_id: TradeId) -> None:
    """A trade and its state."""
    _print(run(lambda conn, _: escrow.get_trade(conn, trade_id, actor=ADMIN), write=False))


@escrow_app.command("pay")
def pay(trade_id: TradeId, user: UserOpt, key: Key) -> None:
    """Pay as the buyer: the amount is held from the user's wallet."""
    _print(
        run(
            lambda conn, ledger: escrow.pay(
                conn, ledger, idempotency_key=key, trade_id=trade_id, user_id=user
            )
        )
    )


@escrow_app.command("ship")
def ship(trade_id: TradeId, partner: PartnerOpt, key: Key) -> None:
    """Mark sent as the merchant: the buyer's confirm window starts."""
    _print(
        run(
            lambda conn, ledger: escrow.mark_sent(
                conn, ledger, idempotency_key=key, trade_id=trade_id, partner_id=partner
            )
        )
    )


@escrow_app.command("confirm")
def confirm(trade_id: TradeId, user: UserOpt, key: Key) -> None:
    """Confirm receipt as the buyer: the money is released to the seller."""
    _print(
        run(
            lambda conn, ledger: escrow.confirm(
                conn, ledger, idempotency_key=key, trade_id=trade_id, user_id=user
            )
        )
    )


@escrow_app.command("cancel")
def cancel(
    trade_id: TradeId,
    key: Key,
    reason: Annotated[str, typer.Option(help="Why (1–32 characters).")] = "operator",
) -> None:
    """Close an open trade as an operator (dispute): a paid trade is refunded to the buyer."""
    _print(
        run(
            lambda conn, ledger: escrow.cancel(
                conn, ledger, idempotency_key=key, trade_id=trade_id, actor=ADMIN, reason=reason
            )
        )
    )


@escrow_app.command("sweep")
def sweep() -> None:
    """Apply pay and confirm timeouts now (the worker does this continuously)."""
    count = run(lambda conn, ledger: escrow.sweep_timeouts(conn, ledger, ledger.clock.now_ns()))
    out.print(f"{count} trades changed")


# -- holds -----------------------------------------------------------------------------------------
def register(app: typer.Typer) -> None:
    app.add_typer(escrow_app, name="escrow")
