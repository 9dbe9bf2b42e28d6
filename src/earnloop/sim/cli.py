"""``earnloop risk eval``: run the fraud simulation on a fresh temporary SQLite database (or a given
one), score the risk decisions against the ground truth and print recall per attack type, the
false-positive rate on honest users' events and the simulation's events per second. Exits 1 when a
target is missed (``--no-fail``: only report)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from cryptography.fernet import Fernet

from earnloop.cli_support import EXPECTED_ERRORS, fail
from earnloop.config import get_settings
from earnloop.db.engine import Database, make_database
from earnloop.db.migrate import SchemaBehindError, require_current_schema, upgrade
from earnloop.einvoice.cipher import CodeCipher, FernetCodeCipher, cipher_from_settings
from earnloop.secretbox import SecretBox, process_box
from earnloop.sim import report
from earnloop.sim.evaluation import evaluate
from earnloop.sim.run import SimError, simulate
from earnloop.sim.spec import SCALES, SEED_MAX, SpecError


class Scale(StrEnum):
    quick = "quick"
    default = "default"
    large = "large"


@dataclass(frozen=True)
class Target:
    db: Database
    cipher: CodeCipher
    box: SecretBox


@contextmanager
def _target(database_url: str | None) -> Iterator[Target]:
    """A fresh migrated SQLite file with throw-away keys (removed afterwards), or the given database
    (its schema current) with the configured keys."""
    if database_url is not None:
        db = make_database(database_url)
        try:
            require_current_schema(db)
            yield Target(db, cipher_from_settings(get_settings()), process_box())
        finally:
            db.dispose()
        return
    with tempfile.TemporaryDirectory(prefix="earnloop-sim-") as folder:
        db = make_database(f"sqlite:///{Path(folder) / 'sim.db'}")
        try:
            upgrade(db)
            cipher = FernetCodeCipher(Fernet.generate_key().decode("ascii"))
            yield Target(db, cipher, SecretBox([Fernet.generate_key()]))
        finally:
            db.dispose()


def eval_(
    seed: Annotated[int, typer.Option(min=0, max=SEED_MAX, help="The simulation's seed.")] = 15,
    scale: Annotated[Scale, typer.Option(help="Population size.")] = Scale.default,
    quick: Annotated[
        bool, typer.Option("--quick", help="Same as --scale quick (seconds; smoke runs).")
    ] = False,
    database_url: Annotated[
        str | None, typer.Option(help="Run on this migrated database instead of a temporary SQLite file.")
    ] = None,
    json_only: Annotated[bool, typer.Option("--json", help="JSON lines (bench convention) only.")] = False,
    no_fail: Annotated[bool, typer.Option("--no-fail", help="Exit 0 even when a target is missed.")] = False,
) -> None:
    """Score the live risk strategy on simulated honest and attack traffic (docs/risk-attacks.md)."""
    try:
        spec = replace(SCALES[Scale.quick if quick else scale], seed=seed).check()
        with _target(database_url) as target:
            result = simulate(target.db, spec, cipher=target.cipher, box=target.box)
            planted = tuple(attack for attack, count in spec.attackers.items() if count > 0)
            with target.db.uow(write=False) as conn:
                scored = evaluate(conn, result.run, planted)
            dialect = target.db.dialect
    except (SpecError, SimError, SchemaBehindError, *EXPECTED_ERRORS) as exc:
        fail(str(exc))
    if json_only:
        for line in report.json_lines(scored, result, dialect):
            print(json.dumps(line), flush=True)
    else:
        for text in report.text(scored, result, dialect):
            typer.echo(text)
    missed = scored.missed()
    if missed and not no_fail:
        fail("targets missed: " + "; ".join(missed))


def register(risk_app: typer.Typer) -> None:
    risk_app.command("eval")(eval_)
