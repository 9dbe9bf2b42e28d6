"""``earnloop credit register [PATH] --by NAME | score USER | rescore | models | approve VERSION --by NAME |
monitor``: register the models ``earnloop credit train`` saved (both as drafts, with their training
distribution), score one user or everyone with the approved champion, list and approve registered models
(four eyes: not the model's author), and the PSI report (exits 1, with a warning logged, when any PSI is
above 0.25)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Annotated

import structlog
import typer

from earnloop.cli_support import transaction

log = structlog.get_logger("earnloop.credit")


def _credit() -> ModuleType:
    """Credit's service, imported when a command runs: pandas and joblib stay out of every other
    command's start-up."""
    from earnloop.credit import service

    return service


def register(
    path: Annotated[Path, typer.Argument(help="The models file `earnloop credit train` wrote.")] = Path(
        "var/credit/models.joblib"
    ),
    by: Annotated[str, typer.Option("--by", help="Who registers them (the author; another approves).")] = "",
) -> None:
    """Register the trained champion and challenger as draft versions, with their metrics and the
    distribution of their training rows (what monitoring compares with)."""
    from earnloop.credit import training

    if not by.strip():
        raise typer.BadParameter("--by NAME: who registers the models")
    try:
        bundle = training.load(path)
    except training.BundleError as exc:
        raise typer.BadParameter(str(exc)) from exc
    rows, _ = training.held_out(bundle.users, bundle.seed)
    start, end = (int(datetime.fromisoformat(t).timestamp() * 1e9) for t in bundle.train_window)
    window = _credit().Window(start, end + 1)
    trained = (("champion", bundle.champion, "scorecard"), ("challenger", bundle.challenger, "lightgbm"))
    with transaction() as conn:
        for kind, model, key in trained:
            metrics = {k: float(v) for k, v in asdict(bundle.metrics[key]).items()}
            info = _credit().register(conn, model, window, metrics, by.strip(), kind=kind, training=rows)
            typer.echo(f"v{info.version} {info.name} {kind} registered (draft; approve it with another name)")


def score(
    user_id: Annotated[int, typer.Argument(min=1, help="The user's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Score one user now with the approved champion (stored) and explain it."""
    with transaction() as conn:
        scored = _credit().score_user(conn, user_id, now_ns=time.time_ns())
        privilege = _credit().credit_view(conn, user_id, now_ns=time.time_ns()).privilege
    band = None if privilege is None else privilege.band
    reasons = [{"text": r.text, "points": round(r.points, 1)} for r in scored.top_reasons()]
    if as_json:
        body: dict[str, object] = {"user_id": user_id, "score": scored.score}
        body |= {"model_version": scored.model_version, "subscores": scored.subscores, "reasons": reasons}
        body["band"] = band
        typer.echo(json.dumps(body))
        return
    typer.echo(f"user {user_id}: {scored.score} (model v{scored.model_version}, band {band})")
    typer.echo("  " + ", ".join(f"{k} {v}" for k, v in scored.subscores.items()))
    for reason in reasons:
        typer.echo(f"  {reason['points']:+7.1f}  {reason['text']}")


def rescore() -> None:
    """Score every user with the approved champion now (stored)."""
    started = time.perf_counter()
    with transaction() as conn:
        count = _credit().rescore_all(conn, now_ns=time.time_ns())
    seconds = time.perf_counter() - started
    typer.echo(f"scored {count} users in {seconds:.1f} s")


def models() -> None:
    """The registered models, oldest first."""
    with transaction(write=False) as conn:
        found = _credit().list_models(conn)
    if not found:
        typer.echo("no credit model registered")
    for m in found:
        metrics = " ".join(f"{k}={v:.3f}" for k, v in sorted(m.metrics.items()))
        approved = f" approved by {m.approved_by}" if m.approved_by else ""
        typer.echo(f"v{m.version} {m.name} {m.kind} {m.state} by {m.created_by}{approved}  {metrics}")


def approve(
    version: Annotated[int, typer.Argument(min=1, help="The model version.")],
    by: Annotated[str, typer.Option("--by", help="The approving operator (not the model's author).")],
) -> None:
    """Approve a draft model: scoring uses it from now on (the kind's previous version is retired)."""
    with transaction() as conn:
        info = _credit().approve(conn, version, by)
    typer.echo(f"v{info.version} {info.name} approved by {info.approved_by}")


def monitor(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per feature.")] = False,
) -> None:
    """PSI of the score and each feature against the training distribution; exit 1 above 0.25."""
    with transaction(write=False) as conn:
        report = _credit().monitor(conn)
    if not report:
        typer.echo("nothing to monitor: no approved model with stored scores")
        return
    for drift in report:
        flag = "  ALERT" if drift.alert else ""
        line = json.dumps({"name": drift.name, "psi": drift.psi, "alert": drift.alert})
        typer.echo(line if as_json else f"{drift.name:<26}{drift.psi:>8.4f}{flag}")
    shifted = [d.name for d in report if d.alert]
    if shifted:
        log.warning("credit_psi_alert", features=shifted, threshold=_credit().PSI_ALERT)
        raise typer.Exit(1)


def install(app: typer.Typer) -> None:
    """Add these commands to the ``credit`` sub-app."""
    for command in (register, score, rescore, models, approve, monitor):
        app.command(command.__name__)(command)
