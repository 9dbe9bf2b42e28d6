"""Every shell example in README.md works on a fresh demo: the demo is seeded into a temporary SQLite
database by the real ``earnloop db upgrade`` and ``earnloop demo seed``, served by the real
``earnloop serve`` on a free port, and each ```sh block (except the ``make`` ones, which are what this
test does) runs in bash from the demo's directory, as a reader would run it after ``make demo``.

Only the address changes (``127.0.0.1:8000`` → the test server's port). Each block must exit 0; every
``curl`` in it must get a 2xx answer (``--fail-with-body``), and a ledger batch must be ``created``
throughout. A block that shows an error on purpose is preceded by ``<!-- readme-test: expect-error -->``
and must then answer 4xx.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EARNLOOP
from tests.live_server import earnloop_serve, free_port

README = Path(__file__).resolve().parents[2] / "README.md"
DEMO_ADDRESS = "127.0.0.1:8000"
EXPECT_ERROR = "<!-- readme-test: expect-error -->"
BLOCK_RE = re.compile(rf"(?P<marker>{EXPECT_ERROR}\s*)?^```sh\n(?P<body>.*?)^```", re.M | re.S)
BLOCK_TIMEOUT_S = 120
CURL_WRAPPER = """
set -euo pipefail
curl() {
  command curl -sS --max-time 60 %(fail)s -w '\\n' "$@" | tee -a "$README_TEST_BODIES"
  return "${PIPESTATUS[0]}"
}
"""

pytestmark = pytest.mark.xdist_group("readme")


@dataclass(frozen=True)
class Block:
    line: int
    body: str
    expect_error: bool

    def __str__(self) -> str:
        return f"README.md:{self.line}"


def readme_blocks() -> list[Block]:
    """The ```sh blocks that talk to a running demo (every one but those running ``make``)."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK_RE.finditer(text):
        body = match["body"]
        if any(line.lstrip().startswith("make ") for line in body.splitlines()):
            continue
        blocks.append(Block(text.count("\n", 0, match.start("body")) + 1, body, bool(match["marker"])))
    return blocks


def _environment(tmp_path: Path, port: int) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("EARNLOOP_")}
    return {
        **inherited,
        "PATH": f"{Path(EARNLOOP).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "EARNLOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'earnloop.db'}",
        "EARNLOOP_PORT": str(port),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }


def _earnloop(env: dict[str, str], cwd: Path, *args: str) -> None:
    done = subprocess.run(
        [EARNLOOP, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"earnloop {' '.join(args)}: {done.stderr[-2000:]}"


def _run_block(block: Block, env: dict[str, str], cwd: Path, port: int) -> None:
    bodies = cwd / f"bodies-{block.line}.txt"
    bodies.write_text("", encoding="utf-8")
    script = CURL_WRAPPER % {"fail": "" if block.expect_error else "--fail-with-body"}
    script += block.body.replace(DEMO_ADDRESS, f"127.0.0.1:{port}")
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env={**env, "README_TEST_BODIES": str(bodies)},
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
        check=False,
    )
    shown = f"{block}:\n{block.body}\nstdout: {done.stdout[-1500:]}\nstderr: {done.stderr[-1500:]}"
    assert done.returncode == 0, shown
    answers = [json.loads(line) for line in bodies.read_text(encoding="utf-8").splitlines() if _json(line)]
    if block.expect_error:
        assert any(isinstance(a, dict) and 400 <= a.get("status", 0) < 500 for a in answers), shown
        return
    for answer in answers:
        results = answer.get("results") if isinstance(answer, dict) else None
        if isinstance(results, list):  # a ledger batch: every event must have been created
            assert {r.get("status") for r in results} == {"created"}, shown


def _json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def test_readme_has_demo_examples() -> None:
    blocks = readme_blocks()
    assert any("/v1/ledger/transfers" in b.body for b in blocks)
    assert all(DEMO_ADDRESS in b.body or "earnloop " in b.body for b in blocks), [str(b) for b in blocks]


def test_every_readme_command_works_on_a_fresh_demo(tmp_path: Path) -> None:
    port = free_port()
    env = _environment(tmp_path, port)
    _earnloop(env, tmp_path, "db", "upgrade")
    _earnloop(env, tmp_path, "demo", "seed")
    with earnloop_serve(env["EARNLOOP_DATABASE_URL"], tmp_path, port=port):
        for block in readme_blocks():
            _run_block(block, env, tmp_path, port)
