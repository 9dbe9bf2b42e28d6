"""``earnloop cashback …``: credit, reverse and confirm rewards from the command line (operators and
scripts)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from earnloop.cli_support import out
from earnloop.ledger.cli import run
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.chart import AccountKind

cashback_app = typer.Typer(help="Cashback: credit, reverse, confirm due.", no_args_is_help=True)

UserId = Annotated[int, typer.Argument(min=1, help="User id.")]
CurrencyArg = Annotated[str, typer.Argument(help="ISO 4217 code, e.g. TWD.")]


@cashback_app.command("credit")
def credit(
    source: str,
    ref: str,
    user_id: UserId,
    currency: CurrencyArg,
    amount: Annotated[int, typer.Argument(min=1)],
    release_at_ns: Annotated[int, typer.Option(help="Release time, Unix ns.")],
    partner: Annotated[int, typer.Option(help="Funding partner id (0: the operator funds it).")] = 0,
) -> None:
    """Record a pending reward (idempotent on source + ref)."""
    funding = cashback.Funding(
        AccountKind.PARTNER_FUNDING if partner else AccountKind.OPERATOR_FUNDING, partner
    )
    entry = run(
        lambda conn, ledger: cashback.credit_pending(
            conn,
            ledger,
            source=source,
            ref=ref,
            user_id=user_id,
            currency_code=currency,
            amount=amount,
            release_at_ns=release_at_ns,
            funding=funding,
        )
    )
    out.print(json.dumps(entry))


@cashback_app.command("reverse")
def reverse(source: str, ref: str) -> None:
    """Cancel a reward: void while pending, claw back once confirmed."""
    out.print(json.dumps(run(lambda conn, ledger: cashback.reverse(conn, ledger, source=source, ref=ref))))


@cashback_app.command("confirm-due")
def confirm_due() -> None:
    """Confirm every reward whose release time has passed (the worker does this continuously)."""
    count = run(lambda conn, ledger: cashback.confirm_due(conn, ledger, ledger.clock.now_ns()))
    out.print(f"{count} confirmed")


def register(app: typer.Typer) -> None:
    app.add_typer(cashback_app, name="cashback")
