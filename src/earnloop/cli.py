"""The ``earnloop`` command: serve, worker, doctor, db, ledger, secrets, demo and bench — and every
domain's sub-commands, wired here (a domain's ``cli.py`` knows only its own domain).

Errors print one line on stderr and exit non-zero; nothing is changed by a command that fails.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from earnloop.affiliate import cli as affiliate_cli
from earnloop.auth import cli as auth_cli
from earnloop.catalog import cli as catalog_cli
from earnloop.cli_support import fail, ready_database, secret_box
from earnloop.config import Settings, get_settings
from earnloop.credit import cli as credit_cli
from earnloop.db.engine import database_from_settings
from earnloop.db.migrate import SchemaBehindError, require_current_schema, schema_state, upgrade
from earnloop.einvoice import cli as einvoice_cli
from earnloop.ledger.cli import unit_of_work
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.errors import InvalidBatchError
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import Account, Transfer
from earnloop.outbox import cli as outbox_cli
from earnloop.recs import cli as recs_cli
from earnloop.risk import cli as risk_cli
from earnloop.sim import cli as sim_cli
from earnloop.tracking import cli as tracking_cli
from earnloop.wallet import cli as wallet_cli
from earnloop.wallet.cashback import cli as cashback_cli
from earnloop.wallet.credit_line import cli as credit_line_cli
from earnloop.wallet.donations import cli as donations_cli
from earnloop.wallet.escrow import cli as escrow_cli
from earnloop.wallet.fx import cli as fx_cli
from earnloop.wallet.holds import cli as holds_cli
from earnloop.wallet.pay import cli as pay_cli
from earnloop.wallet.withdrawals import cli as withdrawals_cli

app = typer.Typer(
    help="earnloop: cashback, wallet, risk and credit on a double-entry ledger.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
ledger_app = typer.Typer(help="Ledger accounts, transfers and balances (admin).", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")
app.add_typer(demo_app, name="demo")
secrets_app = typer.Typer(help="Secrets stored at rest (EARNLOOP_SECRETS_KEYS).", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")
sim_cli.register(risk_cli.risk_app)  # earnloop risk eval (the fraud lab sits above risk)
# Every domain's sub-commands, in the order `earnloop --help` lists them.
for domain_cli in (
    auth_cli,
    wallet_cli,
    cashback_cli,
    escrow_cli,
    holds_cli,
    outbox_cli,
    withdrawals_cli,
    donations_cli,
    pay_cli,
    credit_line_cli,
    fx_cli,
    catalog_cli,
    einvoice_cli,
    affiliate_cli,
    tracking_cli,
    recs_cli,
    risk_cli,
    credit_cli,
):
    domain_cli.register(app)
out = Console()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve the API (and later the console and app) with uvicorn."""
    import uvicorn

    from earnloop.observability import configure_logging
    from earnloop.serving import ServingConfigError, uvicorn_options

    settings = get_settings()
    configure_logging(settings.log_level)
    try:
        options = uvicorn_options(settings, host=host, port=port, workers=workers)
        require_current_schema(database_from_settings(settings))
    except (SchemaBehindError, ServingConfigError) as exc:
        fail(str(exc))
    uvicorn.run("earnloop.web.server:create_served_app", factory=True, **options)


@app.command()
def worker(
    interval_s: Annotated[int, typer.Option(min=1, max=3600, help="Seconds between sweeps.")] = 1,
    once: Annotated[bool, typer.Option(help="Run one sweep and exit.")] = False,
) -> None:
    """Background sweeps: expiry, cashback, escrow, holds, webhooks, withdrawals, e-invoice sync."""
    from earnloop.runtime import tune_gc
    from earnloop.worker import run_sweeps

    database = ready_database()
    tune_gc()
    run_sweeps(database, LedgerService(SystemClock()), interval_s=interval_s, once=once)


@app.command()
def doctor() -> None:
    """Print what earnloop is connected to and whether it is healthy; exit 1 when it is not."""
    settings = get_settings()
    healthy = True
    db = database_from_settings(settings)
    try:
        state = schema_state(db)
        schema = (
            "current"
            if state.is_current
            else f"behind ({state.current} < {state.head}): run `earnloop db upgrade`"
        )
        healthy &= state.is_current
        out.print(
            f"database  {db.dialect}  {db.engine.url.render_as_string(hide_password=True)}  schema {schema}"
        )
    except Exception as exc:
        healthy = False
        out.print(f"database  unreachable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    healthy &= _doctor_redis(settings)
    raise typer.Exit(0 if healthy else 1)


def _doctor_redis(settings: Settings) -> bool:
    if not settings.redis_url:
        out.print("redis     not configured (in-process fallbacks)")
        return True
    import redis

    try:
        redis.Redis.from_url(settings.redis_url, socket_timeout=2).ping()
    except redis.RedisError as exc:
        out.print(f"redis     unreachable: {type(exc).__name__}")
        return False
    out.print("redis     ok")
    return True


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every stored secret with the first key of EARNLOOP_SECRETS_KEYS, and encrypt values
    still stored in plain text (rows from before encryption). Afterwards the other keys can go."""
    import earnloop.tables  # noqa: F401  (every table, so every sealed column is known)
    from earnloop.db.metadata import metadata
    from earnloop.secretbox import reseal_columns, sealed_columns

    box = secret_box()
    columns = sealed_columns(metadata)
    with unit_of_work() as (conn, _):
        report = reseal_columns(conn, box, columns)
    names = ", ".join(f"{c.table.name}.{c.name}" for c in columns)
    out.print(
        f"{report.sealed_plaintext} plaintext values encrypted, {report.resealed} re-encrypted "
        f"with the first key ({names})"
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    db = database_from_settings(get_settings())
    upgrade(db)
    out.print(f"schema at {schema_state(db).current}")


def _parse_json_items(source: str, what: str) -> list[dict[str, object]]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{what}: cannot read {source}: {exc.strerror if isinstance(exc, OSError) else 'not UTF-8'}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{what}: invalid JSON at line {exc.lineno}: {exc.msg}")
    items = data.get(what) if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        fail(f'{what}: expected a JSON list of objects (or {{"{what}": [...]}})')
    return items


def _coerce(items: list[dict[str, object]], kind: type[Account] | type[Transfer], what: str) -> list[Any]:
    from pydantic import ValidationError

    from earnloop.ledger.schemas import AccountIn, TransferIn

    model = AccountIn if kind is Account else TransferIn
    parsed: list[Any] = []
    for index, item in enumerate(items):
        try:
            parsed.append(model.model_validate(item).to_domain())
        except ValidationError as exc:
            err = exc.errors()[0]
            fail(f"{what}[{index}].{'.'.join(map(str, err['loc']))}: {err['msg']}")
    return parsed


def _print_results(results: list[object]) -> None:
    failed = 0
    for index, result in enumerate(results):
        status = result.status  # type: ignore[attr-defined]
        failed += status.name != "CREATED"
        out.print(f"{index}\t{status.name.lower()}\t{result.timestamp}")  # type: ignore[attr-defined]
    if failed:
        raise typer.Exit(2)


@ledger_app.command("accounts")
def ledger_accounts(
    file: Annotated[str, typer.Argument(help="JSON file with a list of accounts, or - for stdin.")],
) -> None:
    """Create accounts from JSON; prints one result per account (exit 2 if any was not created)."""
    items = _coerce(_parse_json_items(file, "accounts"), Account, "accounts")
    db = ready_database()
    try:
        with db.uow() as conn:
            results = LedgerService(SystemClock()).create_accounts(conn, items)
    except InvalidBatchError as exc:
        fail(str(exc))
    _print_results(list(results))


@ledger_app.command("transfers")
def ledger_transfers(
    file: Annotated[str, typer.Argument(help="JSON file with a list of transfers, or - for stdin.")],
) -> None:
    """Create transfers from JSON; prints one result per transfer (exit 2 if any was not created)."""
    items = _coerce(_parse_json_items(file, "transfers"), Transfer, "transfers")
    db = ready_database()
    try:
        with db.uow() as conn:
            results = LedgerService(SystemClock()).create_transfers(conn, items)
    except InvalidBatchError as exc:
        fail(str(exc))
    _print_results(list(results))


@ledger_app.command("balance")
def ledger_balance(
    account_ids: Annotated[list[str], typer.Argument(help="Account ids (decimal).")],
) -> None:
    """Show accounts' balances."""
    ids = []
    for raw in account_ids:
        if not (raw.isascii() and raw.isdigit()) or int(raw) >= 1 << 128:
            fail(f"account id {raw[:40]!r} is not an unsigned 128-bit integer")
        ids.append(int(raw))
    db = ready_database()
    with db.uow(write=False) as conn:
        accounts = {a.id: a for a in LedgerService(SystemClock()).lookup_accounts(conn, ids)}
    missing = [i for i in ids if i not in accounts]
    table = Table("account", "ledger", "debits pending", "debits posted", "credits pending", "credits posted")
    for a in accounts.values():
        table.add_row(
            str(a.id),
            str(a.ledger),
            *(str(v) for v in (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)),
        )
    out.print(table)
    if missing:
        fail(f"unknown account(s): {', '.join(map(str, missing))}")


@demo_app.command("seed")
def demo_seed() -> None:
    """Create demo accounts and transfers through the ledger (idempotent) and the admin token file."""
    from earnloop.demo import seed

    settings = get_settings()
    started = time.perf_counter()
    summary = seed(ready_database(), settings)
    out.print(f"seeded in {time.perf_counter() - started:.1f}s")
    out.print(summary)


@app.command()
def bench(
    name: Annotated[
        str,
        typer.Argument(help="ledger, wallet, postback, risk, risk-deploy, backtest, app, credit, or all."),
    ],
    quick: Annotated[bool, typer.Option(help="Small sizes (smoke run).")] = False,
    json_only: Annotated[bool, typer.Option("--json", help="Only the JSON lines.")] = False,
) -> None:
    """Run a benchmark; prints one JSON object per line (see DESIGN.md §8)."""
    from earnloop.bench import BENCHES, run_bench
    from earnloop.bench.common import BenchError
    from earnloop.runtime import tune_gc

    if name != "all" and name not in BENCHES:
        fail(f"unknown bench {name!r} (known: {', '.join(BENCHES)}, all)")
    tune_gc()  # as in the processes measured (`earnloop serve`, `earnloop worker`)
    try:
        run_bench(name, quick=quick, json_only=json_only)
    except BenchError as exc:
        fail(f"bench {name}: {exc}")


def main() -> None:
    app()
