"""``earnloop bench risk --quick`` prints one JSON line per metric with a same-run ceiling (the same rules
as plain Python), and the two paths agreed on every decision (the bench fails otherwise)."""

import json
import subprocess

import pytest

from tests.conftest import EARNLOOP

REQUIRED = {"bench", "db", "metric", "value", "unit", "ceiling", "ceiling_what", "ratio", "rules", "features"}


@pytest.mark.slow
def test_bench_risk_quick_prints_json_lines() -> None:
    done = subprocess.run(
        [EARNLOOP, "bench", "risk", "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == ""  # --json: nothing but the result lines
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["metric"] for line in lines] == [
        "decisions_per_s",
        "decision_latency_p50_us",
        "decision_latency_p99_us",
    ]
    for line in lines:
        assert set(line) >= REQUIRED
        assert line["bench"] == "risk"
        assert (line["rules"], line["features"]) == (100, 10)
        assert line["value"] > 0
        assert line["ceiling"] > 0
        assert line["ratio"] == pytest.approx(line["value"] / line["ceiling"], rel=0.02)
