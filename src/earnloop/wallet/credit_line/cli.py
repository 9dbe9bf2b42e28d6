"""``earnloop credit-line …``: a user's credit line from the command line (operators and scripts):
set its limit, show it and its statement, quote and draw at a merchant, repay, its standing."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from earnloop.cli_support import fail, out
from earnloop.config import get_settings
from earnloop.ledger.cli import run
from earnloop.risk.engine import build_engine
from earnloop.wallet.credit_line import service as credit_line
from earnloop.wallet.credit_line import standing
from earnloop.wallet.credit_line.terms import Terms
from earnloop.wallet.screening import RiskRefusedError, keep_refusal, unwrap

credit_line_app = typer.Typer(
    help="Credit line: limit, draw at a merchant, statements, repay.", no_args_is_help=True
)

UserId = Annotated[int, typer.Argument(min=1, help="User id.")]
Currency = Annotated[str, typer.Argument(help="ISO 4217 code.")]
Key = Annotated[str, typer.Option(help="Idempotency key: re-running with it changes nothing.")]
Merchant = Annotated[int, typer.Option("--merchant", min=1, help="Merchant partner id.")]
Amount = Annotated[int, typer.Argument(min=1, help="Minor units.")]


def _print(value: object) -> None:
    out.print(json.dumps(value), soft_wrap=True)


@credit_line_app.command("limit")
def limit(
    user_id: UserId, currency: Currency, value: Annotated[int, typer.Argument(min=0, help="Minor units.")]
) -> None:
    """Open the user's line or set its limit (lowering it below what is owed blocks new draws)."""
    _print(run(lambda conn, ledger: credit_line.open_line(conn, ledger, user_id, currency, value)))


@credit_line_app.command("show")
def show(user_id: UserId, currency: Currency) -> None:
    """The line: limit, drawn, overdue debt, available."""
    _print(run(lambda conn, ledger: credit_line.view(conn, ledger, user_id, currency), write=False))


@credit_line_app.command("statement")
def statement(user_id: UserId, currency: Currency) -> None:
    """The latest statement (balance due, minimum, due date, lines) and what is not billed yet."""
    _print(run(lambda conn, ledger: standing.statement(conn, ledger, user_id, currency), write=False))


@credit_line_app.command("standing")
def line_standing(user_id: UserId) -> None:
    """Open debt, days past due, drawn, limit and on-time share (what the credit score reads)."""
    _print(run(lambda conn, ledger: standing.line_standing(conn, ledger, user_id), write=False))


@credit_line_app.command("quote")
def quote(user_id: UserId, currency: Currency, amount: Amount, merchant: Merchant) -> None:
    """What a draw would cost: amount, fee, total (nothing moves)."""
    terms = Terms.from_settings()
    _print(
        run(
            lambda conn, ledger: credit_line.quote(
                conn,
                ledger,
                user_id=user_id,
                currency_code=currency,
                merchant_id=merchant,
                amount=amount,
                terms=terms,
            ),
            write=False,
        )
    )


@credit_line_app.command("draw")
def draw(
    user_id: UserId,
    currency: Currency,
    amount: Amount,
    merchant: Merchant,
    key: Key,
    fee: Annotated[int, typer.Option(min=0, help="The fee the quote showed.")],
    reference: Annotated[str | None, typer.Option(help="What it paid for (recorded).")] = None,
) -> None:
    """Pay a merchant with the user's line (screened like a payment), with the quoted fee."""
    settings = get_settings()
    risk, terms = build_engine(settings), Terms.from_settings(settings)
    kept = run(
        lambda conn, ledger: keep_refusal(credit_line.draw)(
            conn,
            ledger,
            idempotency_key=key,
            user_id=user_id,
            currency_code=currency,
            merchant_id=merchant,
            amount=amount,
            fee=fee,
            reference=reference,
            risk=risk,
            terms=terms,
        )
    )
    try:
        _print(unwrap(kept))
    except RiskRefusedError as refused:  # committed: a retry with the key gets it again
        fail(str(refused))


@credit_line_app.command("repay")
def repay(
    user_id: UserId,
    currency: Currency,
    key: Key,
    amount: Annotated[int | None, typer.Option(min=1, help="Minor units (default: everything owed).")] = None,
    topup: Annotated[bool, typer.Option(help="Repaid by a top-up received outside the wallet.")] = False,
) -> None:
    """Repay the line from the user's wallet (or record a top-up); overdue debt first."""
    _print(
        run(
            lambda conn, ledger: credit_line.repay(
                conn,
                ledger,
                idempotency_key=key,
                user_id=user_id,
                currency_code=currency,
                amount=amount,
                source="topup" if topup else "wallet",
            )
        )
    )


def register(app: typer.Typer) -> None:
    app.add_typer(credit_line_app, name="credit-line")
