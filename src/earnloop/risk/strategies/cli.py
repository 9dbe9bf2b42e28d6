"""``earnloop risk strategy …``: publish, approve, roll back, shadow, list, show, diff and audit stored
strategies. Changes act as the operator whose token is ``EARNLOOP_OPERATOR_TOKEN`` (recorded by name).
Every command prints JSON; an error is one line on stderr, exit 1, and changes nothing."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection

from earnloop.auth.operators import Operator, operator_for_token
from earnloop.bounds import loads
from earnloop.cli_support import fail, out, transaction
from earnloop.config import get_settings
from earnloop.risk.engine import standard_catalogue
from earnloop.risk.strategies import audit, queries, service
from earnloop.risk.strategies.schemas import VersionIn

strategy_app = typer.Typer(
    help="Stored risk strategies: publish, approve, roll back, shadow.", no_args_is_help=True
)
FILE_BYTES_MAX = 8 * 1024 * 1024


def register(risk_app: typer.Typer) -> None:
    """Add ``strategy`` to the ``earnloop risk`` command group."""
    risk_app.add_typer(strategy_app, name="strategy")


def _print(value: BaseModel | list[Any] | dict[str, Any]) -> None:
    if isinstance(value, BaseModel):
        data: Any = value.model_dump(mode="json")
    else:
        data = (
            [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
            if isinstance(value, list)
            else value
        )
    out.print(json.dumps(data, ensure_ascii=False), soft_wrap=True, markup=False, highlight=False)


def operator_from_settings(conn: Connection) -> Operator:
    """The operator whose token is ``EARNLOOP_OPERATOR_TOKEN`` (one line and exit 1 when none)."""
    token = get_settings().operator_token
    if token is None:
        fail("set EARNLOOP_OPERATOR_TOKEN to your operator token (`earnloop operators create`)")
    found = operator_for_token(conn, token.get_secret_value())
    if found is None:
        fail("EARNLOOP_OPERATOR_TOKEN is not an operator's token")
    return found


def _document(source: str, name: str | None) -> tuple[str, VersionIn]:
    """The strategy's name (``--name``, else the file's ``name``) and the version the file describes."""
    try:
        raw = (
            sys.stdin.read(FILE_BYTES_MAX + 1) if source == "-" else Path(source).read_text(encoding="utf-8")
        )
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {source}: {exc.strerror if isinstance(exc, OSError) else 'not UTF-8'}")
    if len(raw) > FILE_BYTES_MAX:
        fail(f"{source}: larger than {FILE_BYTES_MAX} bytes")
    try:
        data = loads(raw)
    except ValueError as exc:
        fail(f"{source}: not a JSON document: {exc}")
    if not isinstance(data, dict):
        fail(f"{source}: expected a JSON object with changelog, rules, thresholds and test_pack")
    chosen = name or data.get("name")
    data.pop("name", None)
    if not isinstance(chosen, str):
        fail(f'{source}: name the strategy with --name or a "name" in the file')
    try:
        return chosen, VersionIn.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        fail(f"{source}: {'.'.join(map(str, error['loc']))}: {error['msg']}")


@strategy_app.command("publish")
def publish(
    file: Annotated[
        str, typer.Argument(help="A JSON file (or - for stdin): changelog, rules, thresholds, test_pack.")
    ],
    name: Annotated[str | None, typer.Option(help='The strategy (default: the file\'s "name").')] = None,
) -> None:
    """Publish a new draft version: its rules must compile and its test pack (the file's, else the
    previous version's) must pass. It goes live once another risk operator approves it."""
    chosen, submitted = _document(file, name)
    with transaction() as conn:
        published = service.publish(
            conn,
            chosen,
            submitted,
            operator_from_settings(conn),
            fields=standard_catalogue(get_settings()),
            now_ns=time.time_ns(),
        )
    _print(published)


@strategy_app.command("approve")
def approve(name: str, version: int) -> None:
    """Approve a draft: it goes live in every process within EARNLOOP_RISK_STRATEGY_REFRESH_MS."""
    four_eyes = get_settings().risk_four_eyes
    with transaction() as conn:
        approved = service.approve(
            conn, name, version, operator_from_settings(conn), four_eyes=four_eyes, now_ns=time.time_ns()
        )
    _print(approved)


@strategy_app.command("rollback")
def rollback(name: str, version: int) -> None:
    """Put an earlier approved version back in force."""
    with transaction() as conn:
        restored = service.rollback(conn, name, version, operator_from_settings(conn), now_ns=time.time_ns())
    _print(restored)


@strategy_app.command("shadow")
def shadow(
    name: str,
    version: Annotated[int | None, typer.Argument(help="The candidate; omit with --clear.")] = None,
    clear: Annotated[bool, typer.Option(help="Stop shadowing.")] = False,
) -> None:
    """Run a version as the shadow candidate beside the live one (or stop with --clear)."""
    if (version is None) != clear:
        fail("give a VERSION, or --clear")
    with transaction() as conn:
        service.set_shadow(conn, name, version, operator_from_settings(conn), now_ns=time.time_ns())
        _print(queries.strategy(conn, name))


@strategy_app.command("list")
def list_versions(
    name: Annotated[str | None, typer.Argument(help="A strategy; omitted: every strategy.")] = None,
) -> None:
    """The strategies (live and shadow versions), or one strategy's versions, newest first."""
    with transaction(write=False) as conn:
        _print(queries.strategies(conn) if name is None else queries.versions(conn, name))


@strategy_app.command("show")
def show(name: str, version: int) -> None:
    """One version with its rules, thresholds and test pack."""
    with transaction(write=False) as conn:
        _print(queries.version_detail(conn, name, version))


@strategy_app.command("diff")
def diff(name: str, from_version: int, to_version: int) -> None:
    """The rules added, removed and changed (by reason code) between two versions."""
    with transaction(write=False) as conn:
        _print(queries.diff(conn, name, from_version, to_version))


@strategy_app.command("audit")
def audit_log(name: str) -> None:
    """Every change to the strategy, oldest first, with who made it."""
    with transaction(write=False) as conn:
        queries.strategy(conn, name)
        _print(audit.log_of(conn, name))
