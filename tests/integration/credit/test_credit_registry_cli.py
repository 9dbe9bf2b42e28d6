"""``earnloop credit …`` as a real subprocess on both databases: list and approve models (four eyes),
score one user, re-score everyone, the PSI report (exit 1 above 0.25), bad input as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from earnloop.credit import registry
from earnloop.db.engine import Database
from tests.conftest import Cli
from tests.integration.credit.honest_model import trained
from tests.integration.credit.world import World, make_world

ROOT = str(Path(__file__).resolve().parents[3])  # the model's class is importable from the checkout


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


def test_credit_commands(cli: Cli, world: World) -> None:
    model, rows = trained()
    window = registry.Window(1, world.now())
    info = world.do(lambda c: registry.register(c, model, window, {"auc": 0.8}, "ana", training=rows))

    def run(*args: str) -> tuple[int, str, str]:
        done = cli("credit", *args, PYTHONPATH=ROOT)
        return done.returncode, done.stdout, done.stderr

    code, out, _ = run("models")
    assert (code, f"v{info.version} honest-logistic champion draft by ana" in out) == (0, True)
    code, _, err = run("approve", str(info.version), "--by", "ana")
    assert code == 1
    assert "someone else approves it" in err
    assert err.count("\n") == 1
    assert run("approve", str(info.version), "--by", "ben")[0] == 0
    code, out, _ = run("score", str(world.risky), "--json")
    risky = json.loads(out)
    assert code == 0
    assert risky["model_version"] == info.version
    assert 350 <= risky["score"] <= 950
    assert "much of your cashback was reversed" in [r["text"] for r in risky["reasons"]]
    assert run("score", "999999")[2].strip() == "error: no user 999999"
    code, out, _ = run("rescore")
    assert (code, out.startswith("scored 2 users")) == (0, True)
    code, out, err = run("monitor")
    assert code == 1  # two users are not the training population: the score has shifted
    assert out.splitlines()[0].startswith("score")
    assert "ALERT" in out
    assert "credit_psi_alert" in out + err
