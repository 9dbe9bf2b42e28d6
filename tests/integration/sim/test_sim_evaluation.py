"""``evaluate`` on a hand-made run in the real tables: an attack event is caught when its risk decision is
not ``allow`` or the service refused it; an honest event is a false positive when its decision is not
``allow``; events that are not money events, never-screened events and other runs do not count."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from earnloop.db.engine import Database
from earnloop.risk.models import risk_decisions
from earnloop.sim import evaluate
from earnloop.sim.models import sim_labels

RUN = "hand-made"


def _label(
    seq: int, label: str, ref: str | None, outcome: str = "accepted", *, money: bool = True
) -> dict[str, Any]:
    return {
        "run": RUN,
        "seq": seq,
        "at_ns": seq,
        "kind": "milestone" if money else "click",
        "label": label,
        "actor": f"actor-{seq}",
        "event_ref": ref,
        "outcome": outcome,
        "amount": 100 if money else 0,
        "money_event": money,
    }


def _seed(db: Database) -> None:
    labels = [
        _label(1, "device_farm", "game:a1"),  # review → caught
        _label(2, "device_farm", "game:a2"),  # deny → caught
        _label(3, "device_farm", "game:a3", "refused"),  # allowed, but the service refused it → caught
        _label(4, "device_farm", "game:a4"),  # allowed and paid → missed
        _label(5, "device_farm", "click:a5", money=False),  # not a money event
        _label(6, "callback_replay", "game:h1", "duplicate"),  # a repeat of h1 the receiver recognised
        *(_label(10 + n, "honest", f"game:h{n}") for n in range(1, 9)),  # h1..h8 allowed
        _label(19, "honest", "game:h9"),  # review → a false positive
        _label(20, "honest", None),  # never screened: allowed
        {**_label(21, "device_farm", "game:other"), "run": "another-run"},
    ]
    decisions = {
        "game:a1": "review",
        "game:a2": "deny",
        "game:a3": "allow",
        "game:a4": "allow",
        "game:h9": "review",
    }
    decisions |= {f"game:h{n}": "allow" for n in range(1, 9)}
    decisions["game:other"] = "allow"
    with db.uow() as conn:
        conn.execute(insert(sim_labels), labels)
        conn.execute(
            insert(risk_decisions),
            [
                {"event_ref": ref, "decision": decision, "strategy_version": "test-1", "created_at_ns": 1}
                for ref, decision in decisions.items()
            ],
        )


def test_recall_and_false_positive_rate_are_counted_from_decisions_and_outcomes(db: Database) -> None:
    _seed(db)
    with db.uow(write=False) as conn:
        scored = evaluate(conn, RUN, ("device_farm", "callback_replay", "sdk_spoofing"))
    by_attack = {score.attack: score for score in scored.attacks}
    assert (by_attack["device_farm"].events, by_attack["device_farm"].caught) == (4, 3)
    assert by_attack["device_farm"].recall == 0.75
    assert (by_attack["callback_replay"].events, by_attack["callback_replay"].caught) == (1, 1)
    assert (by_attack["sdk_spoofing"].events, by_attack["sdk_spoofing"].recall) == (0, 0.0)
    assert (scored.honest_events, scored.false_positives) == (10, 1)
    assert scored.false_positive_rate == 0.1
    missed = scored.missed()
    assert any("device_farm 75.0%" in m for m in missed)
    assert any(m.startswith("recall of sdk_spoofing") for m in missed)  # planted nothing: not shown caught
    assert any(m.startswith("false-positive rate 10.00%") for m in missed)
    assert not any("callback_replay" in m for m in missed)
