"""The simulator drives the real services: the same seed gives the same events and labels, every attack
type of docs/risk-attacks.md is planted with labels, honest traffic has the planned mix, and each
label's outcome is what the services did (the money they moved is in the ledger)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from earnloop.db.engine import Database
from earnloop.sim import ATTACK_TYPES, HONEST, MONEY_KINDS, SimError
from earnloop.tracking.models import tracking_postbacks
from earnloop.wallet.cashback.models import cashback_entries
from tests.conftest import reset_ledger
from tests.integration.sim.support import RANDOM_REF_KINDS, labels, run


def _comparable(rows: list[dict[str, object]], *, fresh_ids: bool) -> list[dict[str, object]]:
    """The rows, references left out where they carry ids the database assigned (the same only when
    the ids start afresh, as SQLite's do once the tables are emptied) or the service drew at random."""
    return [
        {**row, "event_ref": None} if not fresh_ids or row["kind"] in RANDOM_REF_KINDS else row
        for row in rows
    ]


def test_the_same_seed_gives_the_same_events_and_labels(db: Database) -> None:
    first = run(db)
    first_labels = labels(db, first.run)
    reset_ledger(db)
    second = run(db)
    assert second.run == first.run
    assert second.events == first.events == len(first_labels)
    fresh_ids = db.is_sqlite
    assert _comparable(labels(db, second.run), fresh_ids=fresh_ids) == _comparable(
        first_labels, fresh_ids=fresh_ids
    )


def test_a_run_plants_every_attack_in_honest_traffic_and_labels_what_the_services_did(db: Database) -> None:
    result = run(db)
    rows = labels(db, result.run)
    _every_attack_type_has_labelled_money_events(rows)
    _honest_traffic_has_the_planned_mix(rows)
    _labels_record_what_the_services_did(db, rows)
    with pytest.raises(SimError, match="already in this database"):
        run(db)


def _every_attack_type_has_labelled_money_events(rows: list[dict[str, Any]]) -> None:
    money_by_label = Counter(r["label"] for r in rows if r["money_event"])
    for attack in ATTACK_TYPES:
        assert money_by_label[attack] > 0, attack
    assert {r["label"] for r in rows} == {HONEST, *ATTACK_TYPES}
    for row in rows:
        assert row["money_event"] == (row["kind"] in MONEY_KINDS)
        assert row["actor"]


def _honest_traffic_has_the_planned_mix(rows: list[dict[str, Any]]) -> None:
    honest = Counter(r["kind"] for r in rows if r["label"] == HONEST)
    planned = ("signup", "click", "milestone", "merchant_click", "conversion", "conversion_approved")
    for kind in (*planned, "einvoice_receipt", "account_change", "withdrawal", "payment"):
        assert honest[kind] > 0, kind
    money = [r for r in rows if r["money_event"]]
    assert sum(r["label"] == HONEST for r in money) > len(money) / 2  # attacks mixed into honest traffic
    assert honest["click"] + honest["merchant_click"] > honest["milestone"] + honest["conversion"]


def _labels_record_what_the_services_did(db: Database, rows: list[dict[str, Any]]) -> None:
    accepted_milestones = [r for r in rows if r["kind"] == "milestone" and r["outcome"] == "accepted"]
    base_rewards = (cashback_entries.c.source == "game") & ~cashback_entries.c.ref.contains(":bonus:")
    with db.uow(write=False) as conn:
        game_rewards = conn.execute(select(func.count()).where(base_rewards)).scalar_one()
        received = conn.execute(select(func.count()).select_from(tracking_postbacks)).scalar_one()
    assert game_rewards == len(accepted_milestones)
    assert received == sum(r["kind"] == "milestone" for r in rows)
    replays = Counter(r["outcome"] for r in rows if r["label"] == "callback_replay")
    assert replays["duplicate"] == 2
    assert replays["refused"] >= 2
    assert all(r["amount"] > 0 for r in accepted_milestones)
