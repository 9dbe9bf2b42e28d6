"""``earnloop catalog …``: import/export the catalog, list games and campaigns, fund a campaign.
Every command prints JSON (or the exported file); errors are one line on stderr, exit 1."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import Connection

from earnloop.catalog import importer, service
from earnloop.catalog.errors import ImportRejectedError
from earnloop.cli_support import fail, out
from earnloop.ledger.cli import run
from earnloop.ledger.service import LedgerService

catalog_app = typer.Typer(
    help="Catalog: merchants, games, campaigns; import and export.", no_args_is_help=True
)


def _print(value: object) -> None:
    out.print(json.dumps(value, ensure_ascii=False), soft_wrap=True, markup=False, highlight=False)


@catalog_app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="A .csv or .json file.")],
    kind: Annotated[str | None, typer.Option(help="games or merchants (default: from the file).")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv or json (default: from the name).")] = None,
) -> None:
    """Import a file: every row or none. A rejected file prints one error line per bad row."""
    try:
        content = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}")
    chosen = fmt or importer.detect_format(file.name, content)

    def action(conn: Connection, _: LedgerService) -> dict[str, Any] | ImportRejectedError:
        try:
            return importer.import_catalog(conn, content, fmt=chosen, kind=kind)
        except ImportRejectedError as exc:  # validation writes nothing: the empty commit is harmless
            return exc

    result = run(action)
    if isinstance(result, ImportRejectedError):
        typer.echo(f"error: {result}", err=True)
        for e in result.errors:
            typer.echo(f"row {e.row} {e.field}: {e.message}", err=True)
        raise typer.Exit(1)
    _print(result)


@catalog_app.command("export")
def export(
    kind: Annotated[str | None, typer.Option(help="games or merchants (CSV needs one).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "json",
    output: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
) -> None:
    """Export the catalog in the import format (re-importing it changes nothing)."""
    if fmt not in importer.FORMATS:
        fail("--format must be csv or json")

    def action(conn: Connection, _: LedgerService) -> str:
        if fmt == "csv":
            return importer.export_csv(conn, kind or "games")
        return json.dumps(importer.export_json(conn, kind), ensure_ascii=False, indent=1)

    text = run(action, write=False)
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")


@catalog_app.command("games")
def games(
    status: Annotated[str | None, typer.Option(help="draft, active, paused or retired.")] = None,
    tag: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Games with their milestones (JSON, one per line)."""
    for game in run(lambda conn, _: service.list_games(conn, status=status, tag=tag), write=False):
        _print(game)


@catalog_app.command("campaigns")
def campaigns(active: Annotated[bool, typer.Option(help="Only those running now.")] = False) -> None:
    """Campaigns with their targets and remaining ledger budget (JSON, one per line)."""
    at = time.time_ns() if active else None
    for c in run(lambda conn, ledger: service.list_campaigns(conn, ledger, active_at_ns=at), write=False):
        _print(c)


@catalog_app.command("fund")
def fund(
    campaign_id: Annotated[int, typer.Argument(min=1)],
    amount: Annotated[int, typer.Argument(min=1, help="Minor units.")],
    key: Annotated[str, typer.Option(help="Idempotency key: re-running with it changes nothing.")],
) -> None:
    """Move money from the operator into a campaign's budget."""
    _print(run(lambda conn, ledger: service.fund_campaign(conn, ledger, campaign_id, amount, key)))


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")
