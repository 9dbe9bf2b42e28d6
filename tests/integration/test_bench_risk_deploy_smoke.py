"""``earnloop bench risk-deploy --quick`` prints the propagation of an approved version to a server
process under load (p50 and max) with a same-run ceiling, and no decision request failed."""

import pytest

from tests.integration.bench_quick import checked_lines, run_quick


@pytest.mark.slow
def test_bench_risk_deploy_quick_prints_json_lines() -> None:
    done = run_quick("risk-deploy")
    assert done.stderr == ""  # --json: nothing but the result lines
    lines = checked_lines(done, {"refresh_ms", "rounds", "requests", "failed"})
    assert [line["metric"] for line in lines] == ["deploy_propagation_p50_ms", "deploy_propagation_max_ms"]
    for line in lines:
        assert line["bench"] == "risk-deploy"
        assert line["failed"] == 0
        assert line["requests"] > 0
