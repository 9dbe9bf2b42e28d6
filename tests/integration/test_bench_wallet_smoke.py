"""``earnloop bench wallet --quick`` prints one JSON line per metric with a same-run ceiling."""

import json
import subprocess

import pytest

from tests.conftest import EARNLOOP

REQUIRED = {"bench", "db", "metric", "value", "unit", "ceiling", "ceiling_what", "ratio"}


@pytest.mark.slow
def test_bench_wallet_quick_prints_json_lines() -> None:
    done = subprocess.run(
        [EARNLOOP, "bench", "wallet", "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["metric"] for line in lines] == [
        "payments_per_s",
        "payment_latency_p50_ms",
        "payment_latency_p99_ms",
    ]
    for line in lines:
        assert set(line) >= REQUIRED
        assert line["value"] > 0
        assert line["ceiling"] > 0
        assert line["ratio"] == pytest.approx(line["value"] / line["ceiling"], rel=0.02)
