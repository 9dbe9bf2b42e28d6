"""``earnloop risk eval`` as a user runs it: ``--quick --json`` prints JSON lines in the bench convention
(recall per attack type, the false-positive rate, events/s against a same-run ceiling); a missed target
exits 1 with one line on stderr; ``--database-url`` runs on a given database and leaves the labels
there; bad input is one line and a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from earnloop.db.engine import Database
from earnloop.sim import ATTACK_TYPES
from earnloop.sim.models import sim_labels
from tests.conftest import EARNLOOP, Cli
from tests.integration.bench_quick import COMMON_KEYS


def _eval(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EARNLOOP, "risk", "eval", "--quick", *args],
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _missed(line: dict[str, Any]) -> bool:
    if "target_min" in line:
        return line["events"] == 0 or line["value"] < line["target_min"]
    return "target_max" in line and line["value"] > line["target_max"]


@pytest.mark.slow
def test_quick_eval_prints_json_lines_and_fails_on_a_missed_target() -> None:
    done = _eval("--json")
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["metric"] for line in lines] == [
        *(f"recall_{attack}" for attack in ATTACK_TYPES),
        "false_positive_rate",
        "sim_events_per_s",
    ]
    for line in lines:
        assert set(line) >= COMMON_KEYS | {"events"}
        assert (line["bench"], line["db"]) == ("risk_eval", "sqlite")
        assert line["ratio"] == pytest.approx(line["value"] / line["ceiling"], rel=0.02)
    recalls = lines[: len(ATTACK_TYPES)]
    assert all(line["events"] > 0 and 0 <= line["caught"] <= line["events"] for line in recalls)
    replay = next(line for line in recalls if line["attack"] == "callback_replay")
    assert replay["caught"] > 0  # duplicates and paid milestones are refused by the receiver itself
    assert 0 <= lines[-2]["flagged"] <= lines[-2]["events"]
    assert 0 < lines[-1]["value"] < lines[-1]["ceiling"]
    # with the pass-through screening every attack the services do not refuse gets through: missed
    if any(_missed(line) for line in lines):
        assert done.returncode == 1
        assert done.stderr.startswith("error: targets missed: ")
        assert done.stderr.count("\n") == 1
    else:
        assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.slow
def test_no_fail_reports_and_exits_zero() -> None:
    done = _eval("--no-fail")
    assert done.returncode == 0, done.stderr
    assert "false-positive rate" in done.stdout
    assert "events/s" in done.stdout


def test_eval_on_a_given_database_leaves_its_labels_there(cli: Cli, db: Database) -> None:
    done = cli("risk", "eval", "--quick", "--no-fail", "--json", "--database-url", cli.target.cli_url)
    assert done.returncode == 0, done.stderr
    with db.uow(write=False) as conn:
        labelled = conn.execute(select(func.count()).select_from(sim_labels)).scalar_one()
    assert labelled == json.loads(done.stdout.splitlines()[-1])["events"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--seed", "-1"), "greater than or equal to 0"),
        (("--scale", "huge"), "huge"),
    ],
)
def test_bad_input_is_refused_with_a_message(args: tuple[str, ...], says: str) -> None:
    done = _eval(*args)
    assert done.returncode != 0
    assert says in done.stderr
    assert done.stdout == ""


def test_a_database_without_the_schema_is_refused_in_one_line(tmp_path: Path) -> None:
    done = _eval("--database-url", f"sqlite:///{tmp_path / 'empty.db'}")
    assert done.returncode == 1
    assert done.stderr.startswith("error: database schema is at nothing")
    assert done.stderr.count("\n") == 1
    assert done.stdout == ""
