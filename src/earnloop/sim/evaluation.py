"""Scoring a run against its labels (``docs/risk-attacks.md``): per attack type, the share of its money
events that were **caught** (the risk decision was not ``allow``, or the service refused the event, so
that no money moved at once); over honest money events, the share **flagged** (the risk decision was not
``allow``: a false positive). Events never screened count as allowed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from earnloop.risk.decision_log import decisions_by_ref
from earnloop.sim.adapter import ACCEPTED
from earnloop.sim.models import sim_labels
from earnloop.sim.spec import ATTACK_TYPES, HONEST

RECALL_MIN = 0.95  # every attack type
FALSE_POSITIVE_RATE_MAX = 0.01  # honest money events
ALLOW = "allow"


@dataclass(frozen=True)
class AttackScore:
    attack: str
    events: int
    caught: int

    @property
    def recall(self) -> float:
        return self.caught / self.events if self.events else 0.0

    @property
    def met(self) -> bool:
        """Caught often enough; an attack that planted no money event cannot show it was caught."""
        return self.events > 0 and self.recall >= RECALL_MIN


@dataclass(frozen=True)
class Evaluation:
    run: str
    attacks: tuple[AttackScore, ...]
    honest_events: int
    false_positives: int

    @property
    def false_positive_rate(self) -> float:
        return self.false_positives / self.honest_events if self.honest_events else 0.0

    def missed(self) -> list[str]:
        """The targets this run misses, one phrase each (empty: every target met)."""
        missed = [
            f"recall of {a.attack} {a.recall:.1%} < {RECALL_MIN:.0%} ({a.caught}/{a.events})"
            for a in self.attacks
            if not a.met
        ]
        if self.false_positive_rate > FALSE_POSITIVE_RATE_MAX:
            missed.append(
                f"false-positive rate {self.false_positive_rate:.2%} > {FALSE_POSITIVE_RATE_MAX:.0%}"
                f" ({self.false_positives}/{self.honest_events})"
            )
        return missed


def evaluate(conn: Connection, run: str, attacks: tuple[str, ...] = ATTACK_TYPES) -> Evaluation:
    """Join the run's money events to their risk decisions and score them (``attacks``: the types the
    run planted, each reported even when it left no money event)."""
    query = select(sim_labels.c.label, sim_labels.c.event_ref, sim_labels.c.outcome).where(
        sim_labels.c.run == run, sim_labels.c.money_event.is_(True)
    )
    events = conn.execute(query).all()
    decisions = decisions_by_ref(conn, (str(e.event_ref) for e in events if e.event_ref is not None))
    totals = dict.fromkeys(attacks, 0)
    caught = dict.fromkeys(attacks, 0)
    honest = flagged_honest = 0
    for label, event_ref, outcome in events:
        flagged = decisions.get(event_ref, ALLOW) != ALLOW
        if label == HONEST:
            honest += 1
            flagged_honest += flagged
            continue
        totals[label] = totals.get(label, 0) + 1
        caught[label] = caught.get(label, 0) + (flagged or outcome != ACCEPTED)
    scores = tuple(AttackScore(attack, totals[attack], caught[attack]) for attack in totals)
    return Evaluation(run, scores, honest, flagged_honest)
