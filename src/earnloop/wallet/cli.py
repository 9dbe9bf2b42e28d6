"""``earnloop wallet …``: open, show, history and adjust wallets from the command line (operators and
scripts)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from earnloop.cli_support import out
from earnloop.ledger.cli import run
from earnloop.wallet import service

wallet_app = typer.Typer(help="Wallets: show, history, adjust.", no_args_is_help=True)

UserId = Annotated[int, typer.Argument(min=1, help="User id.")]
CurrencyArg = Annotated[str, typer.Argument(help="ISO 4217 code, e.g. TWD.")]


@wallet_app.command("open")
def open_wallet(user_id: UserId, currency: CurrencyArg) -> None:
    """Open a user's wallet in a currency (harmless if it is open)."""
    run(lambda conn, ledger: service.open_wallet(conn, ledger, user_id, currency))
    out.print(f"wallet {user_id}/{currency.upper()} open")


@wallet_app.command("show")
def show(user_id: UserId, currency: CurrencyArg) -> None:
    """Balances of a wallet, from the ledger."""
    view = run(lambda conn, ledger: service.view(conn, ledger, user_id, currency), write=False)
    table = Table(
        "available", "pending", "held", "debt", "lifetime earned", title=f"{user_id} {view.currency}"
    )
    table.add_row(
        *(str(v) for v in (view.available, view.pending, view.held, view.debt, view.lifetime_earned))
    )
    out.print(table)


@wallet_app.command("history")
def history(
    user_id: UserId, currency: CurrencyArg, limit: Annotated[int, typer.Option(min=1, max=200)] = 20
) -> None:
    """Latest movements, newest first."""
    entries = run(
        lambda conn, ledger: service.history(conn, ledger, user_id, currency, limit=limit), write=False
    )
    table = Table("timestamp", "what", "amount", "state")
    for e in entries:
        table.add_row(str(e.timestamp_ns), e.description, str(e.amount), e.state)
    out.print(table)


@wallet_app.command("adjust")
def adjust(
    user_id: UserId,
    currency: CurrencyArg,
    amount: Annotated[int, typer.Argument(min=1, help="Minor units.")],
    direction: Annotated[str, typer.Option(help="credit or debit")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    key: Annotated[str, typer.Option(help="Idempotency key: re-running with it changes nothing.")],
    actor: Annotated[str, typer.Option(help="Who makes the adjustment.")] = "cli",
) -> None:
    """Credit or debit a wallet with a recorded reason."""
    result = run(
        lambda conn, ledger: service.adjust(
            conn,
            ledger,
            idempotency_key=key,
            user_id=user_id,
            currency_code=currency,
            amount=amount,
            direction=direction,
            reason=reason,
            actor=actor,
        )
    )
    out.print(json.dumps(result))


def register(app: typer.Typer) -> None:
    app.add_typer(wallet_app, name="wallet")
