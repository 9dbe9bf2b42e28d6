"""Properties of the credit line on both databases: no sequence of draws, repayments, limit changes and
statement sweeps makes a draw take the owed amount above the limit, the available credit is always
``max(0, limit − owed)`` and matches a model of what was drawn and repaid, and the ledger invariants
hold; two concurrent draws cannot exceed the limit together."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from earnloop.auth.service import create_partner, create_user
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import memory_engine, shadowed_default
from earnloop.wallet import service
from earnloop.wallet.credit_line import service as line
from earnloop.wallet.credit_line.errors import (
    CreditLimitExceededError,
    CreditLineFrozenError,
    OverRepaymentError,
)
from earnloop.wallet.credit_line.terms import Terms
from earnloop.wallet.errors import InsufficientFundsError, WalletError
from earnloop.worker import credit_statements_due
from tests.conftest import reset_ledger
from tests.integration.ledger_invariants import check_ledger_invariants

RISK = memory_engine(strategies=shadowed_default)
TERMS = Terms(fee_bps=100)
DAY_S = 86_400

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("draw"), st.integers(1, 3_000)),
        st.tuples(st.just("repay"), st.integers(1, 3_000)),
        st.tuples(st.just("limit"), st.integers(0, 6_000)),
        st.tuples(st.just("fund"), st.integers(1, 3_000)),
        st.tuples(st.just("days"), st.integers(1, 40)),
    ),
    min_size=1,
    max_size=12,
)


def _setup(db: Database, ledger: LedgerService) -> tuple[int, int]:
    reset_ledger(db)
    with db.uow() as conn:
        user_id = create_user(conn, "prop").id
        service.open_wallet(conn, ledger, user_id, "TWD")
        merchant_id = create_partner(conn, "Shop", "merchant", "TWD").id
        line.open_line(conn, ledger, user_id, "TWD", 3_000)
    return user_id, merchant_id


def _apply(
    db: Database, ledger: LedgerService, clock: ManualClock, ids: tuple[int, int], op: tuple[str, int], n: int
) -> int:
    """Run one operation; return by how much it changed what is owed (the model)."""
    user_id, merchant_id = ids
    kind, value = op
    try:
        with db.uow() as conn:
            if kind == "draw":
                line.draw(
                    conn,
                    ledger,
                    idempotency_key=f"d{n}",
                    user_id=user_id,
                    currency_code="TWD",
                    merchant_id=merchant_id,
                    amount=value,
                    fee=TERMS.fee(value),
                    risk=RISK,
                    terms=TERMS,
                )
                return value + TERMS.fee(value)
            if kind == "repay":
                line.repay(
                    conn, ledger, idempotency_key=f"r{n}", user_id=user_id, currency_code="TWD", amount=value
                )
                return -value
            if kind == "limit":
                line.set_limit(conn, ledger, user_id, "TWD", value)
            if kind == "fund":
                service.adjust(
                    conn,
                    ledger,
                    idempotency_key=f"f{n}",
                    user_id=user_id,
                    currency_code="TWD",
                    amount=value,
                    direction="credit",
                    reason="prop",
                    actor="test",
                )
    except (CreditLimitExceededError, CreditLineFrozenError, OverRepaymentError, InsufficientFundsError):
        return 0
    if kind == "days":
        clock.advance(seconds=value * DAY_S)
        credit_statements_due(db, ledger)
    return 0


@pytest.mark.slow
def test_no_sequence_draws_above_the_limit_or_breaks_the_ledger(
    db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(ops=OPS)
    def run(ops: list[tuple[str, int]]) -> None:
        ids = _setup(db, ledger)
        expected = 0
        for n, op in enumerate(ops):
            with db.uow(write=False) as conn:
                before = line.view(conn, ledger, ids[0], "TWD")
            changed = _apply(db, ledger, clock, ids, op, n)
            expected += changed
            with db.uow(write=False) as conn:
                after = line.view(conn, ledger, ids[0], "TWD")
            assert after["owed"] == expected
            assert after["available"] == max(0, after["limit"] - after["owed"])
            if changed > 0:  # a draw that went through stays within the limit
                assert after["owed"] <= after["limit"]
            if before["owed"] > before["limit"]:  # above the limit (lowered): it never grows
                assert after["owed"] <= before["owed"]
        check_ledger_invariants(db)

    run()


def test_two_concurrent_draws_cannot_exceed_the_limit(db: Database, ledger: LedgerService) -> None:
    ids = _setup(db, ledger)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def draw(key: str) -> None:
        barrier.wait()
        try:
            with db.uow() as conn:
                line.draw(
                    conn,
                    ledger,
                    idempotency_key=key,
                    user_id=ids[0],
                    currency_code="TWD",
                    merchant_id=ids[1],
                    amount=2_000,
                    fee=0,
                    risk=RISK,
                    terms=Terms(),
                )
            result = "ok"
        except WalletError as exc:
            result = type(exc).__name__
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=draw, args=(f"race-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["CreditLimitExceededError", "ok"]
    with db.uow(write=False) as conn:
        after = line.view(conn, ledger, ids[0], "TWD")
    assert (after["drawn"], after["available"]) == (2_000, 1_000)
    check_ledger_invariants(db)
