"""``earnloop donations …``: charity campaigns, donations, progress and statements from the command line."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from earnloop.ledger.cli import run
from earnloop.wallet.donations import service as donations

donations_app = typer.Typer(help="Donations: campaigns, donate, progress, statements.", no_args_is_help=True)

UserId = Annotated[int, typer.Argument(min=1, help="User id.")]
CurrencyArg = Annotated[str, typer.Argument(help="ISO 4217 code, e.g. TWD.")]
Key = Annotated[str, typer.Option(help="Idempotency key: re-running with it changes nothing.")]


@donations_app.command("create-campaign")
def create_campaign(
    charity_id: Annotated[int, typer.Argument(min=1, help="Charity partner id.")],
    name: Annotated[str, typer.Option(help="Campaign name.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code.")],
    goal: Annotated[int, typer.Option(min=1, help="Goal in minor units.")],
    starts_at_ns: Annotated[int, typer.Option(min=0, help="Start, Unix ns.")],
    ends_at_ns: Annotated[int, typer.Option(min=1, help="End, Unix ns.")],
) -> None:
    """Open a fundraising campaign for a charity."""
    created = run(
        lambda conn, ledger: donations.create_campaign(
            conn,
            ledger,
            charity_id=charity_id,
            name=name,
            currency_code=currency,
            goal=goal,
            starts_at_ns=starts_at_ns,
            ends_at_ns=ends_at_ns,
        )
    )
    typer.echo(json.dumps(created))


@donations_app.command("donate")
def donate(
    user_id: UserId,
    campaign_id: Annotated[int, typer.Argument(min=1)],
    amount: Annotated[int, typer.Argument(min=1, help="Minor units of the campaign's currency.")],
    key: Key,
) -> None:
    """Donate to a campaign on a user's behalf."""
    result = run(
        lambda conn, ledger: donations.donate(
            conn, ledger, idempotency_key=key, user_id=user_id, campaign_id=campaign_id, amount=amount
        )
    )
    typer.echo(json.dumps(result))


@donations_app.command("progress")
def progress(campaign_id: Annotated[int, typer.Argument(min=1)]) -> None:
    """Raised so far, number of donations and goal."""
    typer.echo(
        json.dumps(
            run(lambda conn, ledger: donations.campaign_progress(conn, ledger, campaign_id), write=False)
        )
    )


@donations_app.command("statement")
def statement(
    charity_id: Annotated[int, typer.Argument(min=1)],
    currency: CurrencyArg,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """A charity's statement: donations (donors masked), totals and the ledger balance they match."""
    result = run(
        lambda conn, ledger: donations.statement(
            conn, ledger, charity_id=charity_id, currency_code=currency, limit=limit
        ),
        write=False,
    )
    typer.echo(json.dumps(result))


def register(app: typer.Typer) -> None:
    app.add_typer(donations_app, name="donations")
