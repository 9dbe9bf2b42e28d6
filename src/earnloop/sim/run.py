"""Running a simulation: plan every actor's steps from the seed, write the catalog, then replay the steps
in time order on a simulated clock, :data:`BATCH_STEPS` to a transaction, and store one label per event
beside what the services did (``sim_labels``)."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select

from earnloop.config import get_settings
from earnloop.db.engine import Database
from earnloop.einvoice.cipher import CodeCipher, cipher_from_settings
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine, memory_engine
from earnloop.secretbox import SecretBox, process_box
from earnloop.sim.attacks import ATTACKS
from earnloop.sim.honest import plan_population
from earnloop.sim.models import sim_labels
from earnloop.sim.plan import Planned, Planner
from earnloop.sim.spec import ATTACK_TYPES, MONEY_KINDS, PopulationSpec
from earnloop.sim.world import START_NS, World, plan_catalog

BATCH_STEPS = 2_000  # steps per transaction: large enough to share the commit, small enough to bound it


class SimError(RuntimeError):
    """The simulation cannot run as asked (its run is already in this database)."""


class SimClock:
    """The simulated clock every service call reads: set forward by the runner, never backward."""

    def __init__(self, start_ns: int) -> None:
        self._now_ns = start_ns
        self._lock = threading.Lock()

    def now_ns(self) -> int:
        with self._lock:
            return self._now_ns

    def set_ns(self, at_ns: int) -> None:
        with self._lock:
            assert at_ns >= self._now_ns, "the simulated clock never goes back"
            self._now_ns = at_ns


@dataclass(frozen=True)
class SimResult:
    """What a run did: its name, how many events it performed (one label each) and how fast, and how
    fast the same number of label rows alone were written (the rate's ceiling, same run)."""

    run: str
    events: int
    elapsed_s: float
    cpu_s: float  # this process's CPU time over the same span (a shared machine inflates only elapsed_s)
    label_rows_per_s: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def events_per_cpu_s(self) -> float:
        return self.events / self.cpu_s if self.cpu_s > 0 else 0.0


def plan(spec: PopulationSpec) -> Planner:
    """Every step of the run, in time order (the same spec always gives the same plan)."""
    spec.check()
    rng = random.Random(spec.seed)
    catalog = plan_catalog(
        rng, spec.run, games=spec.games, merchants=spec.merchants, partners=spec.partners, days=spec.days
    )
    planner = Planner(rng, spec.run, spec.days, catalog)
    plan_population(planner, spec.honest_users)
    for attack in ATTACK_TYPES:
        for number in range(spec.attackers.get(attack, 0)):
            ATTACKS[attack](planner, number)
    planner.steps.sort()
    return planner


def simulate(
    db: Database,
    spec: PopulationSpec,
    *,
    cipher: CodeCipher | None = None,
    box: SecretBox | None = None,
    risk: RiskEngine | None = None,
) -> SimResult:
    """Run ``spec`` against ``db`` (migrated) through the real services; labels go to ``sim_labels``
    under ``spec.run``. ``cipher`` seals e-invoice carrier codes and ``box`` the partners' secrets and
    payout account numbers (defaults: the process's settings; a throw-away database may pass throw-away
    keys). ``risk`` screens every event (default: the built-in default strategy on in-process
    velocity, whose windows follow the simulated clock)."""
    planner = plan(spec)
    with db.uow(write=False) as conn:
        if conn.execute(select(func.count()).where(sim_labels.c.run == spec.run)).scalar_one():
            raise SimError(f"run {spec.run} is already in this database: use a fresh one or another seed")
    clock = SimClock(START_NS)
    world = World(
        LedgerService(clock),
        cipher or cipher_from_settings(get_settings()),
        box or process_box(),
        risk or memory_engine(),
    )
    with db.uow() as conn:
        world.conn = conn
        world.set_up(planner.catalog)
    started, started_cpu = time.perf_counter(), time.process_time()
    events, labels_s = 0, 0.0
    for first in range(0, len(planner.steps), BATCH_STEPS):
        with db.uow() as conn:
            world.conn = conn
            rows = _run_batch(world, clock, spec.run, planner.steps[first : first + BATCH_STEPS], events)
            labels_started = time.perf_counter()
            if rows:
                conn.execute(insert(sim_labels), rows)
            labels_s += time.perf_counter() - labels_started
        events += len(rows)
    world.conn = None
    elapsed_s, cpu_s = time.perf_counter() - started, time.process_time() - started_cpu
    return SimResult(spec.run, events, elapsed_s, cpu_s, events / labels_s if labels_s > 0 else 0.0)


def _run_batch(
    world: World, clock: SimClock, run: str, steps: list[Planned], seq: int
) -> list[dict[str, Any]]:
    rows = []
    for planned in steps:
        clock.set_ns(planned.at_ns)
        for done in planned.step(world):
            seq += 1
            rows.append(
                {
                    "run": run,
                    "seq": seq,
                    "at_ns": planned.at_ns,
                    "kind": done.kind,
                    "label": planned.label,
                    "actor": planned.actor,
                    "event_ref": done.event_ref,
                    "outcome": done.outcome,
                    "amount": done.amount,
                    "money_event": done.kind in MONEY_KINDS,
                }
            )
    return rows
