"""``earnloop bench postback --quick --json``: JSON lines with a same-run ceiling, and every signed
postback sent was accepted and left exactly one pending cashback entry."""

import pytest

from earnloop.bench.postback import QUICK
from tests.integration.bench_quick import checked_lines, run_quick


@pytest.mark.slow
def test_bench_postback_quick_accepts_every_postback_and_prints_json_lines() -> None:
    done = run_quick("postback")
    assert done.stderr == ""  # --json: nothing but the result lines
    lines = checked_lines(done, {"clients"})
    assert [line["metric"] for line in lines] == [
        "postbacks_per_s",
        "postback_latency_p50_ms",
        "postback_latency_p99_ms",
    ]
    for line in lines:
        assert (line["bench"], line["db"], line["clients"]) == ("postback", "sqlite", QUICK.clients)
    throughput = lines[0]
    assert "healthz" in throughput["ceiling_what"]
    assert throughput["sent"] == throughput["accepted"] == throughput["pending_entries"] == QUICK.postbacks
