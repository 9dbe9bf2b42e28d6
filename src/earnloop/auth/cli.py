"""``earnloop users …`` and ``earnloop operators …``: users, partners and operators from the command line;
their secrets are printed once, at creation."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from earnloop.auth import operators
from earnloop.auth import service as auth
from earnloop.cli_support import out, transaction

users_app = typer.Typer(help="Users and partners.", no_args_is_help=True)
operators_app = typer.Typer(help="Operators: named people with roles (risk, admin, …).", no_args_is_help=True)


@users_app.command("create")
def create_user(handle: Annotated[str, typer.Argument(help="Unique handle (a-z 0-9 _ . -).")]) -> None:
    """Create a user and print its id and API token (shown once)."""
    with transaction() as conn:
        created = auth.create_user(conn, handle)
    out.print(json.dumps({"user_id": created.id, "token": created.secret}))


@users_app.command("create-partner")
def create_partner(
    name: str,
    kind: Annotated[str, typer.Option(help="merchant, charity, game_publisher, affiliate_network, payout")],
    currency: Annotated[str, typer.Option(help="Settlement currency.")] = "TWD",
) -> None:
    """Create a partner and print its id and API key (shown once)."""
    with transaction() as conn:
        created = auth.create_partner(conn, name, kind, currency.upper())
    out.print(json.dumps({"partner_id": created.id, "api_key": created.secret}))


@operators_app.command("create")
def create_operator(
    name: Annotated[str, typer.Argument(help="Unique name (a-z 0-9 _ . -).")],
    role: Annotated[
        list[str], typer.Option("--role", help=f"A role (repeatable): {', '.join(sorted(operators.ROLES))}.")
    ],
) -> None:
    """Create an operator and print its id and API token (shown once)."""
    with transaction() as conn:
        created = operators.create_operator(conn, name, role)
    out.print(json.dumps({"operator_id": created.id, "token": created.secret}))


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(operators_app, name="operators")
