"""The fraud simulation lab: a seeded population of honest users and attackers that acts through the real
services in-process, on a simulated clock, and writes ground-truth labels beside what it did (issue 15,
ADR 0027). Credit scoring and insights reuse it for their labels; ``earnloop risk eval`` scores the risk
engine with it.

The API, in three steps::

    from earnloop.sim import PopulationSpec, simulate, evaluate

    spec = PopulationSpec(seed=15, honest_users=1_000, games=8, merchants=6, partners=3, days=14,
                          attackers={"device_farm": 6, "click_injection": 6})   # population spec
    result = simulate(db, spec)            # → events through the services; result.run, .events_per_s
    # → labels: table ``sim_labels`` rows of run ``result.run``, one per event, in order: ``seq``,
    #   ``at_ns``, ``kind`` (signup, click, milestone, conversion, einvoice_receipt, account_change,
    #   withdrawal, ...), ``label`` (``honest`` or the attack type), ``actor``, ``event_ref`` (the
    #   reference the risk decision is recorded under), ``outcome`` (accepted / refused / duplicate),
    #   ``amount`` (minor units) and ``money_event``.
    with db.uow(write=False) as conn:
        scored = evaluate(conn, result.run)   # recall per attack type, false-positive rate

The same spec gives the same events and labels (click ids, drawn by the tracking service, excepted).
Attack types and their signals: ``docs/risk-attacks.md``. Facts the services do not take yet (device
ids, the origin of a withdrawal) are passed in one place, :mod:`earnloop.sim.adapter`.
"""

from earnloop.sim.evaluation import AttackScore, Evaluation, evaluate
from earnloop.sim.run import SimError, SimResult, plan, simulate
from earnloop.sim.spec import ATTACK_TYPES, HONEST, MONEY_KINDS, SCALES, PopulationSpec, SpecError

__all__ = [
    "ATTACK_TYPES",
    "HONEST",
    "MONEY_KINDS",
    "SCALES",
    "AttackScore",
    "Evaluation",
    "PopulationSpec",
    "SimError",
    "SimResult",
    "SpecError",
    "evaluate",
    "plan",
    "simulate",
]
