"""How ``earnloop risk eval`` shows a scored run: a short text table, or JSON lines in the bench
convention of DESIGN.md §8 (``bench``, ``db``, ``metric``, ``value``, ``unit``, ``ceiling``,
``ceiling_what``, ``ratio``) with the counts behind each figure and its target."""

from __future__ import annotations

from typing import Any

from earnloop.sim.evaluation import FALSE_POSITIVE_RATE_MAX, RECALL_MIN, Evaluation
from earnloop.sim.run import SimResult

BENCH = "risk_eval"
RECALL_CEILING_WHAT = "every planted money event of this attack caught (ground truth, same run)"
FPR_CEILING_WHAT = "every honest money event flagged: the worst case (ground truth, same run)"
RATE_CEILING_WHAT = "the same number of label rows by batched INSERT alone, same database, same run"


def _line(
    dialect: str, metric: str, value: float, ceiling: float, unit: str, what: str, **extra: Any
) -> dict[str, Any]:
    shown, shown_ceiling = round(value, 4), round(ceiling, 4)
    return {
        "bench": BENCH,
        "db": dialect,
        "metric": metric,
        "value": shown,
        "unit": unit,
        "ceiling": shown_ceiling,
        "ceiling_what": what,
        "ratio": float(f"{shown / shown_ceiling:.4g}"),
        **extra,
    }


def json_lines(evaluation: Evaluation, result: SimResult, dialect: str) -> list[dict[str, Any]]:
    """One line per attack type (recall), one for the false-positive rate, one for the simulation's
    events per second."""
    lines = [
        _line(
            dialect,
            f"recall_{score.attack}",
            score.recall,
            1.0,
            "ratio",
            RECALL_CEILING_WHAT,
            attack=score.attack,
            events=score.events,
            caught=score.caught,
            target_min=RECALL_MIN,
        )
        for score in evaluation.attacks
    ]
    lines.append(
        _line(
            dialect,
            "false_positive_rate",
            evaluation.false_positive_rate,
            1.0,
            "ratio",
            FPR_CEILING_WHAT,
            events=evaluation.honest_events,
            flagged=evaluation.false_positives,
            target_max=FALSE_POSITIVE_RATE_MAX,
        )
    )
    lines.append(
        _line(
            dialect,
            "sim_events_per_s",
            result.events_per_s,
            max(result.label_rows_per_s, 1.0),
            "1/s",
            RATE_CEILING_WHAT,
            events=result.events,
            events_per_cpu_s=round(result.events_per_cpu_s),
        )
    )
    return lines


def text(evaluation: Evaluation, result: SimResult, dialect: str) -> list[str]:
    """The human report, one string per line."""
    out = [
        f"run {result.run} on {dialect}",
        f"{'attack':<28}{'events':>8}{'caught':>8}{'recall':>9}  target ≥ {RECALL_MIN:.0%}",
    ]
    for score in evaluation.attacks:
        verdict = "ok" if score.met else "MISSED"
        out.append(f"{score.attack:<28}{score.events:>8}{score.caught:>8}{score.recall:>9.1%}  {verdict}")
    verdict = "ok" if evaluation.false_positive_rate <= FALSE_POSITIVE_RATE_MAX else "MISSED"
    out.append(
        f"honest money events {evaluation.honest_events}, flagged {evaluation.false_positives}: "
        f"false-positive rate {evaluation.false_positive_rate:.2%}"
        f" (target ≤ {FALSE_POSITIVE_RATE_MAX:.0%}) {verdict}"
    )
    out.append(
        f"simulation: {result.events} events in {result.elapsed_s:.1f} s"
        f" = {result.events_per_s:,.0f} events/s ({result.events_per_cpu_s:,.0f}/s of CPU time;"
        f" label rows alone: {result.label_rows_per_s:,.0f}/s)"
    )
    return out
