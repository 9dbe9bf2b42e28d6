"""``earnloop users|wallet|cashback …``: the wallet from the command line (operators and scripts)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from earnloop.auth import service as auth
from earnloop.catalog import cli as catalog_cli
from earnloop.cli_support import out
from earnloop.einvoice import cli as einvoice_cli
from earnloop.ledger.cli import run
from earnloop.outbox import cli as outbox_cli
from earnloop.wallet import cashback, cli_escrow, cli_pay, cli_withdrawals, service
from earnloop.wallet.chart import AccountKind

users_app = typer.Typer(help="Users and partners.", no_args_is_help=True)
wallet_app = typer.Typer(help="Wallets: show, history, adjust.", no_args_is_help=True)
cashback_app = typer.Typer(help="Cashback: credit, reverse, confirm due.", no_args_is_help=True)

UserId = Annotated[int, typer.Argument(min=1, help="User id.")]
CurrencyArg = Annotated[str, typer.Argument(help="ISO 4217 code, e.g. TWD.")]


@users_app.command("create")
def create_user(handle: Annotated[str, typer.Argument(help="Unique handle (a-z 0-9 _ . -).")]) -> None:
    """Create a user and print its id and API token (shown once)."""
    created = run(lambda conn, _: auth.create_user(conn, handle))
    out.print(json.dumps({"user_id": created.id, "token": created.secret}))


@users_app.command("create-partner")
def create_partner(
    name: str,
    kind: Annotated[str, typer.Option(help="merchant, charity, game_publisher, affiliate_network, payout")],
    currency: Annotated[str, typer.Option(help="Settlement currency.")] = "TWD",
) -> None:
    """Create a partner and print its id and API key (shown once)."""
    created = run(lambda conn, _: auth.create_partner(conn, name, kind, currency.upper()))
    out.print(json.dumps({"partner_id": created.id, "api_key": created.secret}))


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
    app.add_typer(users_app, name="users")
    app.add_typer(wallet_app, name="wallet")
    app.add_typer(cashback_app, name="cashback")
    cli_escrow.register(app)
    outbox_cli.register(app)
    cli_withdrawals.register(app)
    cli_pay.register(app)
    catalog_cli.register(app)
    einvoice_cli.register(app)
