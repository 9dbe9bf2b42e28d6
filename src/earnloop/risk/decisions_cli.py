"""``earnloop risk explain|shadow-report|backtest``: the decision log read back from the command line —
a stored decision replayed step by step, the shadow candidate against the live strategy, and the
backtest of a stored version (recorded with it, acting as the operator of ``EARNLOOP_OPERATOR_TOKEN``).
JSON on stdout; an error is one line on stderr, exit 1."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from earnloop.cli_support import fail, out, ready_database, transaction
from earnloop.config import get_settings
from earnloop.errors import DomainError
from earnloop.risk import decisions
from earnloop.risk.engine import standard_catalogue
from earnloop.risk.rules import RuleError
from earnloop.risk.strategies.backtests import WORKERS_MAX, backtest_version
from earnloop.risk.strategies.cli import operator_from_settings


def _print(data: Any) -> None:
    out.print(json.dumps(data, ensure_ascii=False), soft_wrap=True, markup=False, highlight=False)


def explain(
    event_ref: Annotated[str, typer.Argument(help="The screened event's reference, e.g. game:…")],
    version: Annotated[
        str | None, typer.Option(help="Replay under this strategy version instead of the recorded one.")
    ] = None,
) -> None:
    """A stored decision replayed rule by rule: fired or not, the values each rule read, its score."""
    with transaction(write=False) as conn:
        _print(
            decisions.explain_decision(conn, event_ref, standard_catalogue(get_settings()), version=version)
        )


def shadow_report(
    since_ns: Annotated[int, typer.Option(min=0, help="Only decisions from this time (ns since epoch).")] = 0,
) -> None:
    """The shadow candidate's decisions against the live ones."""
    with transaction(write=False) as conn:
        _print(decisions.shadow_report(conn, since_ns=since_ns))


def backtest(
    name: Annotated[str, typer.Argument(help="The stored strategy.")],
    version: Annotated[int, typer.Argument(min=1, help="Its version to replay.")],
    workers: Annotated[int, typer.Option(min=1, max=WORKERS_MAX, help="Worker processes.")] = 2,
) -> None:
    """Replay a stored version over every screened event; prints and records the result."""
    with transaction(write=False) as conn:
        operator = operator_from_settings(conn)
    db = ready_database()
    try:
        _print(
            backtest_version(db, name, version, standard_catalogue(get_settings()), operator, workers=workers)
        )
    except (DomainError, RuleError) as exc:
        fail(str(exc))
    finally:
        db.dispose()


def register(risk_app: typer.Typer) -> None:
    risk_app.command("explain")(explain)
    risk_app.command("shadow-report")(shadow_report)
    risk_app.command("backtest")(backtest)
