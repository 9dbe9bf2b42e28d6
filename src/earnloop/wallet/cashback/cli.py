"""``earnloop cashback …``: credit, reverse and confirm rewards, and decide the ones a risk review holds,
from the command line (operators and scripts)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from earnloop.cli_support import out
from earnloop.ledger.cli import run
from earnloop.risk import reviews
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.cashback.reviews import decide_review
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


@cashback_app.command("reviews")
def list_reviews(
    status: Annotated[str, typer.Option(help="open, approved or rejected.")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=reviews.LIST_MAX)] = 100,
) -> None:
    """Rewards held by a risk review, oldest first (JSON lines)."""
    for review in run(lambda conn, _: reviews.list_reviews(conn, status=status, limit=limit), write=False):
        typer.echo(json.dumps(review))


@cashback_app.command("review")
def decide(
    review_id: Annotated[int, typer.Argument(min=1, help="Review id.")],
    approve: Annotated[bool, typer.Option("--approve/--reject", help="Release the reward, or void it.")],
    reviewer: Annotated[str, typer.Option(help="Who decides (recorded).")],
    note: Annotated[str, typer.Option(help="Why (recorded).")] = "",
) -> None:
    """Decide a held reward: approve (released by the next confirm) or reject (voided), once."""
    done = run(
        lambda conn, ledger: decide_review(
            conn, ledger, review_id, approve=approve, reviewer=reviewer, note=note
        )
    )
    typer.echo(json.dumps(done))


def register(app: typer.Typer) -> None:
    app.add_typer(cashback_app, name="cashback")
