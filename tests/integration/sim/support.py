"""A small simulated world for the sim tests: every attack type once, a few honest users, a few days."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import select

from earnloop.db.engine import Database
from earnloop.einvoice.cipher import FernetCodeCipher
from earnloop.sim import ATTACK_TYPES, PopulationSpec, SimResult, simulate
from earnloop.sim.models import sim_labels

TINY = PopulationSpec(
    seed=7,
    honest_users=40,
    games=3,
    merchants=2,
    partners=1,
    days=4,
    attackers=dict.fromkeys(ATTACK_TYPES, 1),
)
# Ids the services draw at random (unguessable click ids) appear in these events' references.
RANDOM_REF_KINDS = frozenset({"click", "merchant_click"})


def run(db: Database, spec: PopulationSpec = TINY) -> SimResult:
    return simulate(db, spec, cipher=FernetCodeCipher(Fernet.generate_key().decode("ascii")))


def labels(db: Database, run_name: str) -> list[dict[str, Any]]:
    """The run's labels in order, each as a dict."""
    with db.uow(write=False) as conn:
        query = select(sim_labels).where(sim_labels.c.run == run_name).order_by(sim_labels.c.seq)
        return [dict(row._mapping) for row in conn.execute(query)]
