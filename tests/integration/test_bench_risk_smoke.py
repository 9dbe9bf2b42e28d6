"""``earnloop bench risk --quick`` prints one JSON line per metric with a same-run ceiling (the same rules
as plain Python), and the two paths agreed on every decision (the bench fails otherwise)."""

import pytest

from tests.integration.bench_quick import checked_lines, run_quick


@pytest.mark.slow
def test_bench_risk_quick_prints_json_lines() -> None:
    done = run_quick("risk")
    assert done.stderr == ""  # --json: nothing but the result lines
    lines = checked_lines(done, {"rules", "features"})
    assert [line["metric"] for line in lines] == [
        "decisions_per_s",
        "decision_latency_p50_us",
        "decision_latency_p99_us",
    ]
    for line in lines:
        assert line["bench"] == "risk"
        assert (line["rules"], line["features"]) == (100, 10)
