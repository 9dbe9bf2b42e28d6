"""``earnloop tracking …``: postback secrets — a provider's (Tapjoy, ayeT-Studios, AppsFlyer's push
token) and a game publisher's ``earnloop`` secret (ADR 0016). Every command prints JSON; secrets are
prompted for, never echoed; errors are one line on stderr, exit 1."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from earnloop.cli_support import out, secret_box
from earnloop.ledger.cli import run
from earnloop.tracking import secrets

tracking_app = typer.Typer(help="Game postbacks: provider and publisher secrets.", no_args_is_help=True)
Provider = Annotated[str, typer.Argument(help="tapjoy, ayetstudios or appsflyer.")]
PartnerId = Annotated[int, typer.Argument(min=1, help="The game publisher's partner id.")]
Secret = Annotated[str, typer.Option(prompt=True, hide_input=True, help="The shared secret or token.")]
Active = Annotated[bool, typer.Option(help="Accept postbacks signed with it.")]


def _print(value: object) -> None:
    out.print(json.dumps(value, ensure_ascii=False), soft_wrap=True, markup=False, highlight=False)


@tracking_app.command("set-secret")
def set_secret(provider: Provider, secret: Secret, active: Active = True) -> None:
    """Add a provider's secret (AppsFlyer: its Push API token) or (de)activate one (two active =
    rotation)."""
    box = secret_box()
    _print(
        run(
            lambda conn, _: secrets.set_provider_secret(
                conn, provider=provider, secret=secret, active=active, now_ns=time.time_ns(), box=box
            )
        )
    )


@tracking_app.command("secrets")
def provider_secrets(provider: Provider) -> None:
    """The provider's secrets (ids and state, never the values)."""
    for row in run(lambda conn, _: secrets.list_provider_secrets(conn, provider), write=False):
        _print(row)


@tracking_app.command("set-partner-secret")
def set_partner_secret(partner_id: PartnerId, secret: Secret, active: Active = True) -> None:
    """Add a game publisher's earnloop postback secret or (de)activate one (at most two active)."""
    box = secret_box()
    _print(
        run(
            lambda conn, _: secrets.set_partner_secret(
                conn, partner_id=partner_id, secret=secret, active=active, now_ns=time.time_ns(), box=box
            )
        )
    )


@tracking_app.command("partner-secrets")
def partner_secrets(partner_id: PartnerId) -> None:
    """The publisher's earnloop secrets (ids and state, never the values)."""
    for row in run(lambda conn, _: secrets.list_partner_secrets(conn, partner_id), write=False):
        _print(row)


def register(app: typer.Typer) -> None:
    app.add_typer(tracking_app, name="tracking")
