"""``earnloop bench risk --quick`` prints one JSON line per metric with a same-run ceiling (the same rules
as plain Python; for the engine lines, the same compiled rules on precomputed activations), and the two
paths agreed on every decision (the bench fails otherwise)."""

import pytest

from tests.integration.bench_quick import checked_lines, run_quick


@pytest.mark.slow
def test_bench_risk_quick_prints_json_lines() -> None:
    done = run_quick("risk")
    assert done.stderr == ""  # --json: nothing but the result lines
    lines = checked_lines(done, {"rules", "features"})
    metrics = [line["metric"] for line in lines]
    assert metrics[:6] == [
        "decisions_per_s",
        "decision_latency_p50_us",
        "decision_latency_p99_us",
        "engine_decisions_per_s_memory",
        "engine_latency_p50_us_memory",
        "engine_latency_p99_us_memory",
    ]
    assert metrics[6:] in (
        [],
        [f"engine_{m}_redis" for m in ("decisions_per_s", "latency_p50_us", "latency_p99_us")],
    )
    for line in lines:
        assert line["bench"] == "risk"
        assert (line["rules"], line["features"]) == (100, 10)
