"""``earnloop bench backtest --quick`` stores decisions, replays the default strategy over all of them and
prints one JSON line with a same-run ceiling (the same strategy on activations decoded in memory)."""

import pytest

from tests.integration.bench_quick import checked_lines, run_quick


@pytest.mark.slow
def test_bench_backtest_quick_prints_a_json_line() -> None:
    done = run_quick("backtest")
    assert done.stderr == ""
    (line,) = checked_lines(done, {"events", "seconds", "workers", "rules", "known_bad"})
    assert (line["bench"], line["metric"], line["events"]) == ("backtest", "backtest_events_per_s", 2_000)
    assert 0 < line["known_bad"] < 2_000
