"""``earnloop bench credit --quick`` prints a training and a scoring line, each with the same-run ceiling of
a bare LogisticRegression on the same WOE-encoded matrix, and the seconds it took."""

import pytest

from tests.integration.bench_quick import checked_lines, run_quick


@pytest.mark.slow
def test_bench_credit_quick_prints_json_lines() -> None:
    done = run_quick("credit")
    assert done.stderr == ""
    lines = checked_lines(done, {"rows", "columns", "seconds", "ceiling_seconds"})
    assert [line["metric"] for line in lines] == ["train_rows_per_s", "score_rows_per_s"]
    for line in lines:
        assert line["bench"] == "credit"
        assert line["columns"] == 50
        assert line["seconds"] > 0
