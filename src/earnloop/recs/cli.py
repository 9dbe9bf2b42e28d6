"""``earnloop recs eval``: the offline evaluation of the recommendations on simulated activity
(``evaluate.py``) — hit-rate@10, recall@10 and coverage of co-occurrence and of "most popular" on a
held-out month, and the lift. Exits 1 when co-occurrence does not beat popular. Needs no database."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from earnloop.cli_support import fail
from earnloop.recs.evaluate import SEED_MAX, USERS_MAX, USERS_MIN, Evaluation, WorldSpec, evaluate
from earnloop.recs.model import DEFAULT_REWARD_WEIGHT

recs_app = typer.Typer(help="Recommendations (Explore next).", no_args_is_help=True)


def _text(result: Evaluation, reward_weight: float) -> list[str]:
    spec = result.spec
    lines = [
        f"simulated: seed {spec.seed}, {spec.users} players, {spec.games} games, {spec.merchants} merchants, "
        f"{spec.genres} genres, {spec.months} months ({result.interactions} interactions); "
        f"held out: the last month; reward weight {reward_weight}",
        f"{'method':<14}{'players':>9}{'hit-rate@10':>13}{'recall@10':>11}{'coverage':>10}",
    ]
    for name, m in (("co-occurrence", result.cooccurrence), ("most popular", result.popular)):
        lines.append(
            f"{name:<14}{m['users']:>9}{m['hit_rate_at_10']:>13.4f}{m['recall_at_10']:>11.4f}{m['coverage']:>10.4f}"
        )
    lines.append(f"lift of hit-rate@10 over most popular: {result.lift:+.1%}")
    return lines


@recs_app.command("eval")
def eval_(
    seed: Annotated[int, typer.Option(min=0, max=SEED_MAX, help="The simulation's seed.")] = 16,
    users: Annotated[int, typer.Option(min=USERS_MIN, max=USERS_MAX, help="Simulated players.")] = 2_000,
    reward_weight: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="The expected reward's weight in the score.")
    ] = DEFAULT_REWARD_WEIGHT,
    json_only: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Hit-rate@10 of co-occurrence vs most popular on a held-out month of simulated activity."""
    result = evaluate(WorldSpec(seed=seed, users=users), reward_weight=reward_weight)
    if json_only:
        print(
            json.dumps(
                {
                    "seed": seed,
                    "users": users,
                    "reward_weight": reward_weight,
                    "interactions": result.interactions,
                    "cooccurrence": result.cooccurrence,
                    "popular": result.popular,
                    "lift": result.lift,
                }
            ),
            flush=True,
        )
    else:
        for line in _text(result, reward_weight):
            typer.echo(line)
    if not result.beats_popular:
        fail("co-occurrence does not beat most popular on hit-rate@10")


def register(app: typer.Typer) -> None:
    app.add_typer(recs_app, name="recs")
