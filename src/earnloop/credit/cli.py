"""``earnloop credit …``: the credit sub-commands. Each group of commands lives in its own module and
installs itself on :data:`credit_app` (the registry's, scoring's and monitoring's:
:mod:`earnloop.credit.cli_registry`)."""

from __future__ import annotations

import typer

from earnloop.credit import cli_registry

credit_app = typer.Typer(help="Credit scores: models, scoring, monitoring.", no_args_is_help=True)
cli_registry.install(credit_app)


def register(app: typer.Typer) -> None:
    app.add_typer(credit_app, name="credit")
