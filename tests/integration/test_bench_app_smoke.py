"""``earnloop bench app --quick --json``: one JSON line per app page on the demo's data, with the p95 of its
server-side render set against ``/healthz`` in the same run, and its weight under the 150 KB budget."""

import pytest

from earnloop.bench.app import BYTES_MAX, QUICK, app_pages
from tests.integration.bench_quick import checked_lines, run_quick


@pytest.mark.slow
def test_bench_app_quick_measures_every_app_page_on_the_demo_data() -> None:
    done = run_quick("app")
    assert done.stderr == ""  # --json: nothing but the result lines
    fields = {"page", "as", "p50_ms", "p95_ms", "bytes", "within_50ms_p95", "within_150kb"}
    lines = checked_lines(done, fields)
    pages = [line["page"] for line in lines]
    assert "/app" in pages  # the welcome page, for a visitor (alice is sent on to the game zone)
    assert set(pages) <= set(app_pages())
    for line in lines:
        assert (line["bench"], line["db"], line["metric"], line["requests"]) == (
            "app",
            "sqlite",
            "page_p95_ms",
            QUICK.requests,
        )
        assert "healthz" in line["ceiling_what"]
        assert line["p95_ms"] == line["value"] >= line["p50_ms"]
        assert 0 < line["bytes"] <= BYTES_MAX
        assert line["within_150kb"] is True
