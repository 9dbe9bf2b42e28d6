"""Runs ``earnloop bench NAME --quick --json`` as a subprocess and checks what every bench line promises:
the keys, a positive value and ceiling, and a ratio that is value / ceiling (the bench smoke tests)."""

import json
import subprocess
from typing import Any

import pytest

from tests.conftest import EARNLOOP

COMMON_KEYS = {"bench", "db", "metric", "value", "unit", "ceiling", "ceiling_what", "ratio"}


def run_quick(name: str) -> subprocess.CompletedProcess[str]:
    """The finished ``earnloop bench NAME --quick --json`` (exit 0 asserted, stderr shown if not)."""
    done = subprocess.run(
        [EARNLOOP, "bench", name, "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def checked_lines(done: subprocess.CompletedProcess[str], extra_keys: set[str]) -> list[dict[str, Any]]:
    """The JSON lines, each with the common keys and ``extra_keys``, a value, a ceiling and their ratio."""
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    for line in lines:
        assert set(line) >= COMMON_KEYS | extra_keys
        assert line["value"] > 0
        assert line["ceiling"] > 0
        assert line["ratio"] == pytest.approx(line["value"] / line["ceiling"], rel=0.02)
    return lines
