"""``earnloop risk …``: the risk engine's command group; each part of the engine adds its sub-commands
here with one line (lists and feeds, phone reputation, strategies…)."""

from __future__ import annotations

import typer

from earnloop.risk import decisions_cli, lists_cli, phones_cli
from earnloop.risk.strategies import cli as strategies_cli

risk_app = typer.Typer(
    help="Risk engine: strategies, lists, partner feeds, phone reputation.", no_args_is_help=True
)
risk_app.add_typer(lists_cli.list_app, name="list")
risk_app.add_typer(lists_cli.feeds_app, name="feeds")
risk_app.add_typer(phones_cli.phone_app, name="phone")
strategies_cli.register(risk_app)
decisions_cli.register(risk_app)


def register(app: typer.Typer) -> None:
    app.add_typer(risk_app, name="risk")
