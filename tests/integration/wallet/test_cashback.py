"""Cashback lifecycle on both databases: pending → confirmed by the worker → reversed / clawed back,
with shortfalls recorded as debt and repaid from the next earnings first."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, select

from earnloop.auth.service import create_user
from earnloop.db.engine import Database
from earnloop.idempotency.service import IdempotencyConflictError
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.models import risk_outcomes
from earnloop.wallet import service
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.chart import AccountKind

NS = 1_000_000_000
DAY_NS = 86_400 * NS
PARTNER = cashback.Funding(AccountKind.PARTNER_FUNDING, 7)


def _user(conn: Connection, handle: str = "alice") -> int:
    return create_user(conn, handle).id


def _credit(
    conn: Connection, ledger: LedgerService, user_id: int, ref: str, amount: int, release_at_ns: int
) -> dict[str, object]:
    return cashback.credit_pending(
        conn,
        ledger,
        source="shopping",
        ref=ref,
        user_id=user_id,
        currency_code="TWD",
        amount=amount,
        release_at_ns=release_at_ns,
        funding=PARTNER,
    )


def test_pending_cashback_is_confirmed_at_release_time(
    db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    release = clock.now_ns() + 30 * DAY_NS
    with db.uow() as conn:
        user_id = _user(conn)
        _credit(conn, ledger, user_id, "order-1", 1_250, release)
        before = service.view(conn, ledger, user_id, "TWD")
        assert cashback.confirm_due(conn, ledger, release - 1) == 0
        assert cashback.confirm_due(conn, ledger, release) == 1
        after = service.view(conn, ledger, user_id, "TWD")
        assert cashback.confirm_due(conn, ledger, release + DAY_NS) == 0
    assert (before.available, before.pending, before.pending_items[0].release_at_ns) == (0, 1_250, release)
    assert (after.available, after.pending, after.lifetime_earned) == (1_250, 0, 1_250)


def test_same_reward_twice_is_credited_once_and_a_changed_body_conflicts(
    db: Database, ledger: LedgerService
) -> None:
    with db.uow() as conn:
        user_id = _user(conn)
        first = _credit(conn, ledger, user_id, "order-2", 500, 10)
        again = _credit(conn, ledger, user_id, "order-2", 500, 10)
        with pytest.raises(IdempotencyConflictError):
            _credit(conn, ledger, user_id, "order-2", 501, 10)
        view = service.view(conn, ledger, user_id, "TWD")
    assert first == again
    assert view.pending == 500


def test_reversal_before_confirmation_voids(db: Database, ledger: LedgerService) -> None:
    with db.uow() as conn:
        user_id = _user(conn)
        _credit(conn, ledger, user_id, "order-3", 900, 9 * 10**18)
        result = cashback.reverse(conn, ledger, source="shopping", ref="order-3")
        repeat = cashback.reverse(conn, ledger, source="shopping", ref="order-3")
        view = service.view(conn, ledger, user_id, "TWD")
    assert result["status"] == "reversed"
    assert repeat == result
    assert (view.available, view.pending, view.debt) == (0, 0, 0)


def test_clawback_takes_what_is_left_records_debt_and_next_earnings_repay_it(
    db: Database, ledger: LedgerService
) -> None:
    with db.uow() as conn:
        user_id = _user(conn)
        _credit(conn, ledger, user_id, "order-4", 1_000, 1)
        cashback.confirm_due(conn, ledger, 1)
        service.adjust(
            conn,
            ledger,
            idempotency_key="spend-1",
            user_id=user_id,
            currency_code="TWD",
            amount=700,
            direction="debit",
            reason="simulated spending",
            actor="test",
        )
        clawed = cashback.reverse(conn, ledger, source="shopping", ref="order-4")
        in_debt = service.view(conn, ledger, user_id, "TWD")
        _credit(conn, ledger, user_id, "order-5", 1_000, 2)
        cashback.confirm_due(conn, ledger, 2)
        repaid = service.view(conn, ledger, user_id, "TWD")
    assert (clawed["clawed_back"], clawed["debt_recorded"]) == (300, 700)
    assert (in_debt.available, in_debt.debt) == (0, 700)
    assert (repaid.available, repaid.debt) == (300, 0)
    assert repaid.lifetime_earned == 1_000


def test_history_describes_each_movement_newest_first(db: Database, ledger: LedgerService) -> None:
    with db.uow() as conn:
        user_id = _user(conn)
        _credit(conn, ledger, user_id, "order-6", 400, 1)
        cashback.confirm_due(conn, ledger, 1)
        entries = service.history(conn, ledger, user_id, "TWD")
        older = service.history(conn, ledger, user_id, "TWD", before_ns=entries[0].timestamp_ns)
    assert [(e.kind, e.amount, e.state) for e in entries] == [
        ("cashback_confirmed", 400, "resolved"),
        ("cashback_pending", 400, "pending"),
    ]
    assert entries[0].description == "Cashback confirmed"
    assert [e.kind for e in older] == ["cashback_pending"]


def test_a_reversed_or_clawed_back_reward_is_labelled_for_risk_backtests(
    db: Database, ledger: LedgerService
) -> None:
    with db.uow() as conn:
        user_id = _user(conn)
        _credit(conn, ledger, user_id, "order-6", 800, 9 * 10**18)
        _credit(conn, ledger, user_id, "order-7", 600, 1)
        _credit(conn, ledger, user_id, "order-8", 400, 1)
        cashback.confirm_due(conn, ledger, 1)
        for ref in ("order-6", "order-7", "order-6"):  # a repeated reversal labels once
            cashback.reverse(conn, ledger, source="shopping", ref=ref)
        labels = conn.execute(
            select(risk_outcomes.c.event_ref, risk_outcomes.c.kind, risk_outcomes.c.amount).order_by(
                risk_outcomes.c.event_ref
            )
        ).all()
    assert [tuple(row) for row in labels] == [
        ("shopping:order-6", "reversed", 800),
        ("shopping:order-7", "clawed_back", 600),
    ]
