"""``earnloop recs eval`` as a user runs it: on a small seeded population it prints the hit-rate@10,
recall@10 and coverage of co-occurrence and of "most popular" on the held-out month, and the lift;
co-occurrence beats popular (exit 0; exit 1 when the ranking does not, e.g. by reward alone);
``--json`` gives the same figures as one object, the same for the same seed; bad input is one line
and a non-zero exit."""

from __future__ import annotations

import json

from tests.conftest import Cli


def test_the_evaluation_prints_both_hit_rates_and_co_occurrence_wins(cli: Cli) -> None:
    result = cli("recs", "eval", "--seed", "5", "--users", "300")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = {line.split()[0]: line.split() for line in lines if line.startswith(("co-occurrence", "most"))}
    co_hit, popular_hit = float(rows["co-occurrence"][2]), float(rows["most"][3])
    assert co_hit > popular_hit > 0
    assert "hit-rate@10" in result.stdout
    assert "lift of hit-rate@10 over most popular: +" in result.stdout


def test_json_gives_the_same_figures_for_the_same_seed(cli: Cli) -> None:
    first = cli("recs", "eval", "--seed", "5", "--users", "300", "--json")
    again = cli("recs", "eval", "--seed", "5", "--users", "300", "--json")
    assert first.returncode == 0, first.stderr
    assert first.stdout == again.stdout
    report = json.loads(first.stdout)
    assert report["cooccurrence"]["hit_rate_at_10"] > report["popular"]["hit_rate_at_10"]
    assert report["cooccurrence"]["users"] == report["popular"]["users"] > 0
    assert report["lift"] > 0


def test_it_exits_non_zero_when_co_occurrence_does_not_beat_popular(cli: Cli) -> None:
    # ranking by reward alone (weight 1) ignores what players went on to do: it loses on this seed
    result = cli("recs", "eval", "--seed", "3", "--users", "300", "--reward-weight", "1")
    assert result.returncode == 1
    assert "does not beat most popular" in result.stderr
    assert "most popular" in result.stdout


def test_a_population_too_small_is_refused(cli: Cli) -> None:
    result = cli("recs", "eval", "--users", "3")
    assert result.returncode != 0
    assert "--users" in result.stderr
    assert result.stdout == ""
