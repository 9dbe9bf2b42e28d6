"""``earnloop fx …``: exchange rates and conversions from the command line (operators, scripts and
support). Every command prints one JSON line; errors are one line on stderr."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from earnloop.cli_support import out
from earnloop.ledger.cli import run
from earnloop.wallet.fx import service as fx

fx_app = typer.Typer(help="Exchange rates and conversions.", no_args_is_help=True)

UserId = Annotated[int, typer.Argument(min=1, help="User id.")]
Key = Annotated[str, typer.Option(help="Idempotency key: re-running with it changes nothing.")]


def _print(value: object) -> None:
    out.print(json.dumps(value), soft_wrap=True)


@fx_app.command("set-rate")
def set_rate(
    base: Annotated[str, typer.Argument(help="ISO code, e.g. USD.")],
    quote: Annotated[str, typer.Argument(help="ISO code, e.g. TWD.")],
    rate: Annotated[str, typer.Argument(help="Exact decimal: 1 base = RATE quote.")],
    spread_bps: Annotated[int, typer.Option(min=0, max=fx.SPREAD_MAX_BPS)] = fx.DEFAULT_SPREAD_BPS,
    valid_from_ns: Annotated[int | None, typer.Option(help="Unix ns (default: now).")] = None,
) -> None:
    """Record an exchange rate (rates are history: a newer row replaces an older one from its time)."""
    _print(
        run(
            lambda conn, _: fx.set_rate(
                conn,
                base=base,
                quote=quote,
                rate=rate,
                spread_bps=spread_bps,
                valid_from_ns=time.time_ns() if valid_from_ns is None else valid_from_ns,
                actor="cli",
            )
        )
    )


@fx_app.command("rates")
def rates(limit: Annotated[int, typer.Option(min=1, max=fx.RATES_PAGE_MAX)] = 50) -> None:
    """Rates per pair, newest first (one JSON line each)."""
    for row in run(lambda conn, _: fx.list_rates(conn, limit=limit), write=False):
        _print(row)


@fx_app.command("convert")
def convert(
    user_id: UserId,
    from_currency: Annotated[str, typer.Argument(help="ISO code.")],
    to_currency: Annotated[str, typer.Argument(help="ISO code.")],
    amount: Annotated[int, typer.Argument(min=1, help="Minor units of the source currency.")],
    key: Key,
) -> None:
    """Convert a user's money between two of its wallets at the current rate."""
    _print(
        run(
            lambda conn, ledger: fx.convert(
                conn,
                ledger,
                idempotency_key=key,
                user_id=user_id,
                from_currency=from_currency,
                to_currency=to_currency,
                amount=amount,
            )
        )
    )


def register(app: typer.Typer) -> None:
    app.add_typer(fx_app, name="fx")
