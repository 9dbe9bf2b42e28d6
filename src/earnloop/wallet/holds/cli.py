"""``earnloop holds …``: deposit policies, holds and users' mandates from the command line (operators and
scripts). Commands that act for a merchant or a user say so with ``--partner`` / ``--user``; the others
act as an operator. Every money-moving command takes ``--key``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from earnloop.cli_support import out
from earnloop.ledger.cli import run
from earnloop.wallet.escrow.service import ADMIN
from earnloop.wallet.holds import expiry, mandates
from earnloop.wallet.holds import service as holds

holds_app = typer.Typer(
    help="Deposit holds: policies, place, capture, release; a user's approvals and mandates.",
    no_args_is_help=True,
)

Key = Annotated[str, typer.Option(help="Idempotency key: re-running with it changes nothing.")]
TradeId = Annotated[str, typer.Argument(help="Trade id (tr_…).")]
HoldId = Annotated[str, typer.Argument(help="Hold id (hd_…).")]
PartnerOpt = Annotated[int, typer.Option("--partner", min=1, help="Merchant partner id to act as.")]
UserOpt = Annotated[int, typer.Option("--user", min=1, help="User id to act as (the buyer).")]


def _print(value: object) -> None:
    out.print(json.dumps(value), soft_wrap=True)


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
    """Hold a product's deposit from a user's wallet at once (as an operator, for the product's merchant:
    no approval from the user; a merchant's own holds over HTTP wait for it)."""
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


@holds_app.command("approve")
def approve(hold_id: HoldId, user: UserOpt, key: Key) -> None:
    """Approve a merchant's hold request for the user (support): its deposit is held from now on."""
    _print(
        run(
            lambda conn, ledger: holds.approve(
                conn, ledger, idempotency_key=key, hold_id=hold_id, user_id=user
            )
        )
    )


@holds_app.command("decline")
def decline(hold_id: HoldId, user: UserOpt, key: Key) -> None:
    """Decline a merchant's hold request for the user (nothing is held)."""
    _print(
        run(
            lambda conn, ledger: holds.decline(
                conn, ledger, idempotency_key=key, hold_id=hold_id, user_id=user
            )
        )
    )


@holds_app.command("grant-mandate")
def grant_mandate(
    partner_id: Annotated[int, typer.Argument(min=1, help="The merchant allowed to hold deposits.")],
    currency: str,
    total_limit: Annotated[int, typer.Argument(min=1, help="The most it can ever hold (minor units).")],
    user: UserOpt,
    key: Key,
    expires_in_s: Annotated[int, typer.Option(min=mandates.TTL_MIN_S, max=mandates.TTL_MAX_S)] = 30 * 86_400,
    max_per_hold: Annotated[int | None, typer.Option(min=1, help="Largest single hold.")] = None,
) -> None:
    """Grant a merchant a mandate for the user: holds within its limits take effect at once."""
    _print(
        run(
            lambda conn, ledger: mandates.grant(
                conn,
                ledger,
                idempotency_key=key,
                user_id=user,
                partner_id=partner_id,
                currency_code=currency,
                total_limit=total_limit,
                max_per_hold=max_per_hold,
                expires_in_s=expires_in_s,
            )
        )
    )


@holds_app.command("mandates")
def list_mandates(user: UserOpt) -> None:
    """A user's mandates (active, revoked, expired)."""
    _print(run(lambda conn, ledger: mandates.list_mandates(conn, ledger, user), write=False))


@holds_app.command("revoke-mandate")
def revoke_mandate(
    mandate_id: Annotated[str, typer.Argument(help="Mandate id (md_…).")], user: UserOpt
) -> None:
    """Revoke a user's mandate at once."""
    run(lambda conn, ledger: mandates.revoke(conn, ledger, user_id=user, mandate_id=mandate_id))
    out.print(f"{mandate_id} revoked")


@holds_app.command("sweep")
def sweep_holds() -> None:
    """Record expired holds now (the worker does this continuously)."""
    count = run(lambda conn, ledger: expiry.mark_expired(conn, ledger, ledger.clock.now_ns()))
    out.print(f"{count} holds expired")


def register(app: typer.Typer) -> None:
    app.add_typer(holds_app, name="holds")
