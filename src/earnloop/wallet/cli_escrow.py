"""``earnloop escrow …`` and ``earnloop holds …``: guaranteed trades and deposit holds from the command
line (operators and scripts). Commands that act for a merchant or a user say so with ``--partner`` /
``--user``; the others act as an operator. Every money-moving command takes ``--key``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from earnloop.cli_support import out, run
from earnloop.wallet import escrow, holds
from earnloop.wallet.escrow import ADMIN

escrow_app = typer.Typer(
    help="Escrow (guaranteed trades): create, pay, ship, confirm, cancel.", no_args_is_help=True
)
holds_app = typer.Typer(help="Deposit holds: policies, place, capture, release.", no_args_is_help=True)

Key = Annotated[str, typer.Option(help="Idempotency key: re-running with it changes nothing.")]
TradeId = Annotated[str, typer.Argument(help="Trade id (tr_…).")]
HoldId = Annotated[str, typer.Argument(help="Hold id (hd_…).")]
PartnerOpt = Annotated[int, typer.Option("--partner", min=1, help="Merchant partner id to act as.")]
UserOpt = Annotated[int, typer.Option("--user", min=1, help="User id to act as (the buyer).")]


def _print(value: object) -> None:
    out.print(json.dumps(value), soft_wrap=True)


# -- escrow ----------------------------------------------------------------------------------------
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
@holds_app.command("set-policy")
def set_policy(
    product: str,
    currency: str,
    amount: Annotated[int, typer.Argument(min=1, help="Deposit in minor units.")],
    partner: PartnerOpt,
    min_credit_score: Annotated[int | None, typer.Option(help="Reserved for the no-deposit rule.")] = None,
) -> None:
    """Create or replace a merchant product's deposit in a currency."""
    _print(
        run(
            lambda conn, _: holds.set_policy(
                conn,
                product=product,
                currency_code=currency,
                partner_id=partner,
                amount=amount,
                min_credit_score=min_credit_score,
            )
        )
    )


@holds_app.command("policies")
def policies() -> None:
    """Every deposit policy."""
    _print(run(lambda conn, _: holds.list_policies(conn), write=False))


@holds_app.command("set-override")
def set_override(
    product: str,
    currency: str,
    user_id: Annotated[int, typer.Argument(min=1)],
    amount: Annotated[int, typer.Argument(min=1)],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
) -> None:
    """A per-user deposit for a product (replaces the policy's amount for that user)."""
    _print(
        run(
            lambda conn, _: holds.set_override(
                conn, product=product, currency_code=currency, user_id=user_id, amount=amount, reason=reason
            )
        )
    )


@holds_app.command("place")
def place(
    product: str,
    user_id: Annotated[int, typer.Argument(min=1)],
    currency: str,
    ref: str,
    key: Key,
    expires_in_s: Annotated[int, typer.Option(help="The hold is released by itself after this.")] = (
        holds.EXPIRY_DEFAULT_S
    ),
) -> None:
    """Hold a product's deposit from a user's wallet (as an operator, for the product's merchant)."""
    _print(
        run(
            lambda conn, ledger: holds.place_hold(
                conn,
                ledger,
                idempotency_key=key,
                actor=ADMIN,
                product=product,
                user_id=user_id,
                currency_code=currency,
                ref=ref,
                expires_in_s=expires_in_s,
            )
        )
    )


@holds_app.command("show")
def show_hold(hold_id: HoldId) -> None:
    """A hold and its state."""
    _print(run(lambda conn, ledger: holds.get_hold(conn, ledger, hold_id, actor=ADMIN), write=False))


@holds_app.command("capture")
def capture(
    hold_id: HoldId,
    amount: Annotated[int, typer.Argument(min=1, help="Minor units to charge (≤ held).")],
    reason: Annotated[str, typer.Option(help="Why (damage, fees…).")],
    key: Key,
) -> None:
    """Charge part or all of a deposit; the rest is released."""
    _print(
        run(
            lambda conn, ledger: holds.capture(
                conn, ledger, idempotency_key=key, hold_id=hold_id, actor=ADMIN, amount=amount, reason=reason
            )
        )
    )


@holds_app.command("release")
def release(hold_id: HoldId, key: Key) -> None:
    """Give a whole deposit back."""
    _print(
        run(
            lambda conn, ledger: holds.release(
                conn, ledger, idempotency_key=key, hold_id=hold_id, actor=ADMIN
            )
        )
    )


@holds_app.command("sweep")
def sweep_holds() -> None:
    """Record expired holds now (the worker does this continuously)."""
    count = run(lambda conn, ledger: holds.mark_expired(conn, ledger, ledger.clock.now_ns()))
    out.print(f"{count} holds expired")


def register(app: typer.Typer) -> None:
    app.add_typer(escrow_app, name="escrow")
    app.add_typer(holds_app, name="holds")
