"""``earnloop affiliate …``: merchants' postback secrets, partner report import, conversions.
Every command prints JSON; errors are one line on stderr, exit 1."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from earnloop.affiliate import report, service
from earnloop.cli_support import database, fail, out, secret_box
from earnloop.config import get_settings
from earnloop.ledger.cli import run
from earnloop.risk.engine import build_engine

affiliate_app = typer.Typer(
    help="Shopping cashback: merchant postback secrets, partner reports, conversions.", no_args_is_help=True
)
MerchantId = Annotated[int, typer.Argument(min=1, help="Catalog merchant id.")]


def _print(value: object) -> None:
    out.print(json.dumps(value, ensure_ascii=False), soft_wrap=True, markup=False, highlight=False)


@affiliate_app.command("import-report")
def import_report(
    merchant_id: MerchantId,
    file: Annotated[Path, typer.Argument(help="The partner's CSV report.")],
) -> None:
    """Apply a partner report: valid rows are applied, rejected rows listed on stderr (exit 2);
    re-importing the same file changes nothing. An unreadable file imports nothing (exit 1)."""
    try:
        content = file.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}")
    settings = get_settings()
    risk = build_engine(settings, db=database(settings))  # the stored strategy decides, as in the API
    summary: dict[str, Any] = run(
        lambda conn, ledger: report.import_report(
            conn, ledger, merchant_id=merchant_id, content=content, now_ns=ledger.clock.now_ns(), risk=risk
        )
    )
    _print(summary)
    for error in summary["errors"]:
        typer.echo(f"row {error['row']} {error['reason_code']}: {error['message']}", err=True)
    if summary["errors"]:
        raise typer.Exit(2)


@affiliate_app.command("set-secret")
def set_secret(
    merchant_id: MerchantId,
    secret: Annotated[str, typer.Option(prompt=True, hide_input=True, help="The shared HMAC secret.")],
    active: Annotated[bool, typer.Option(help="Accept postbacks signed with it.")] = True,
) -> None:
    """Add a merchant's postback secret or (de)activate one (two active = rotation); not echoed."""
    box = secret_box()
    _print(
        run(
            lambda conn, _: service.set_secret(
                conn, merchant_id=merchant_id, secret=secret, active=active, now_ns=time.time_ns(), box=box
            )
        )
    )


@affiliate_app.command("secrets")
def secrets(merchant_id: MerchantId) -> None:
    """The merchant's secrets (ids and state, never the values)."""
    for row in run(lambda conn, _: service.list_secrets(conn, merchant_id), write=False):
        _print(row)


@affiliate_app.command("conversions")
def conversions(
    merchant_id: Annotated[int | None, typer.Option(min=1, help="Only this merchant's.")] = None,
    user_id: Annotated[int | None, typer.Option(min=1, help="Only this user's.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=service.LIST_MAX)] = 100,
) -> None:
    """Conversions, newest first (JSON, one per line)."""
    rows = run(
        lambda conn, _: service.list_conversions(conn, merchant_id=merchant_id, user_id=user_id, limit=limit),
        write=False,
    )
    for row in rows:
        _print(row)


def register(app: typer.Typer) -> None:
    app.add_typer(affiliate_app, name="affiliate")
