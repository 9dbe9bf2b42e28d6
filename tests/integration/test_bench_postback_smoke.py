"""``earnloop bench postback --quick --json``: JSON lines with a same-run ceiling, and every signed
postback sent was accepted and left exactly one pending cashback entry."""

import json
import subprocess

import pytest

from earnloop.bench.postback import QUICK
from tests.conftest import EARNLOOP

REQUIRED = {"bench", "db", "metric", "value", "unit", "ceiling", "ceiling_what", "ratio", "clients"}


@pytest.mark.slow
def test_bench_postback_quick_accepts_every_postback_and_prints_json_lines() -> None:
    done = subprocess.run(
        [EARNLOOP, "bench", "postback", "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == ""  # --json: nothing but the result lines
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["metric"] for line in lines] == [
        "postbacks_per_s",
        "postback_latency_p50_ms",
        "postback_latency_p99_ms",
    ]
    for line in lines:
        assert set(line) >= REQUIRED
        assert (line["bench"], line["db"], line["clients"]) == ("postback", "sqlite", QUICK.clients)
        assert line["value"] > 0
        assert line["ceiling"] > 0
        assert line["ratio"] == pytest.approx(line["value"] / line["ceiling"], rel=0.02)
    throughput = lines[0]
    assert "healthz" in throughput["ceiling_what"]
    assert throughput["sent"] == throughput["accepted"] == throughput["pending_entries"] == QUICK.postbacks
