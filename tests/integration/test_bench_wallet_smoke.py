"""``earnloop bench wallet --quick`` prints one JSON line per metric with a same-run ceiling."""

import pytest

from tests.integration.bench_quick import checked_lines, run_quick


@pytest.mark.slow
def test_bench_wallet_quick_prints_json_lines() -> None:
    done = run_quick("wallet")
    lines = checked_lines(done, set())
    assert [line["metric"] for line in lines] == [
        "payments_per_s",
        "payment_latency_p50_ms",
        "payment_latency_p99_ms",
    ]
