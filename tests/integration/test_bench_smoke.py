"""``earnloop bench ledger --quick --json``: every stdout line is a well-formed result line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI, PG_URL

REQUIRED = ("bench", "db", "metric", "batch", "value", "unit", "ceiling", "ceiling_what", "ratio")
METRICS = {"transfers_per_s", "batch_latency_p50_ms", "batch_latency_p99_ms"}
BATCHES = {1, 100, 8190}


@pytest.mark.slow
def test_bench_ledger_quick_prints_json_lines() -> None:
    proc = _bench_ledger_quick("--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # --json: nothing but the result lines, and those on stdout
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    by_db: dict[str, list[dict[str, object]]] = {}
    for line in lines:
        assert line["bench"] == "ledger"
        by_db.setdefault(str(line["db"]), []).append(line)
    assert set(by_db) == {"sqlite", "postgresql"}

    skipped = [line for line in by_db["postgresql"] if "skipped" in line]
    if skipped:
        assert not IN_CI, f"CI requires PostgreSQL: {skipped[0]['skipped']}"
        assert len(by_db["postgresql"]) == 1
        del by_db["postgresql"]

    for db, results in by_db.items():
        seen = set()
        for line in results:
            for key in REQUIRED:
                assert key in line, (db, key, line)
            value, ceiling, ratio = line["value"], line["ceiling"], line["ratio"]
            for number in (value, ceiling, ratio):
                assert isinstance(number, int | float), line
                assert number > 0, line
            assert ratio == pytest.approx(value / ceiling, rel=1e-2, abs=1e-3), line
            assert line["metric"] in METRICS, line
            seen.add((line["metric"], line["batch"]))
        assert seen == {(m, b) for m in METRICS for b in BATCHES}, db


@pytest.mark.slow
def test_bench_ledger_without_json_says_where_a_batchs_time_goes() -> None:
    """Without ``--json`` the bench also times each step of a batch and prints the split to stderr,
    one line per database, the steps adding up to no more than the batch."""
    proc = _bench_ledger_quick()
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "where time goes" in line]
    databases = {line.split("[")[1].split("]")[0] for line in lines}
    assert "sqlite" in databases, proc.stderr
    if IN_CI:
        assert databases == {"sqlite", "postgresql"}, proc.stderr
    for line in lines:
        total = float(line.split("batch 8190: ")[1].split(" ms per batch")[0])
        parts = line.split("ms per batch: ")[1].removesuffix(" (ms)").split(", ")
        assert any(part.startswith("decide (state machine) ") for part in parts), line
        steps = [float(part.rsplit(" ", 1)[1]) for part in parts]
        assert steps[-1] >= -1  # "the rest": what no step covers (rounding aside)
        assert sum(steps) == pytest.approx(total, abs=len(steps)), line


def _bench_ledger_quick(*options: str) -> subprocess.CompletedProcess[str]:
    """``earnloop bench ledger --quick [options]``, with PostgreSQL where the tests find it."""
    earnloop = Path(sys.executable).with_name("earnloop")
    env = {**os.environ, "EARNLOOP_BENCH_POSTGRES_URL": os.environ.get("EARNLOOP_BENCH_POSTGRES_URL", PG_URL)}
    return subprocess.run(
        [str(earnloop), "bench", "ledger", "--quick", *options],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
