"""Property test of ``cashback.adjust_down`` (partial refunds) on SQLite and PostgreSQL: for any reward,
any sequence of shrinking amounts, paid by the worker at any point and partly spent, the wallet equals a
plain model (pending, available, debt), the ledger invariants hold, and repeating an adjustment changes
nothing."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from earnloop.auth.service import create_user
from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService
from earnloop.wallet import service as wallet
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.cashback.service import Funding
from earnloop.wallet.chart import AccountKind
from tests.integration.ledger_invariants import check_ledger_invariants

_users = itertools.count()


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, list[int], int, int]:
    amount = draw(st.integers(1, 1_000_000))
    cuts = draw(st.lists(st.integers(0, amount - 1), max_size=4, unique=True))
    targets = sorted(cuts, reverse=True)
    paid_after = draw(st.integers(0, len(targets)))  # how many refunds happen before payment
    spent_permille = draw(st.integers(0, 1000))
    return amount, targets, paid_after, spent_permille


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_partial_refunds_match_the_model(
    db: Database, ledger: LedgerService, scenario: tuple[int, list[int], int, int]
) -> None:
    amount, targets, paid_after, spent_permille = scenario
    n = next(_users)
    ref = f"order-{n}"
    with db.uow() as conn:
        user_id = create_user(conn, f"prop-{n}").id
        cashback.credit_pending(
            conn,
            ledger,
            source="shopping",
            ref=ref,
            user_id=user_id,
            currency_code="TWD",
            amount=amount,
            release_at_ns=0,
            funding=Funding(AccountKind.OPERATOR_FUNDING, 0),
        )
    model = {"pending": amount, "available": 0, "debt": 0}
    current = amount

    def pay_and_spend() -> None:
        with db.uow() as conn:
            cashback.confirm_due(conn, ledger, ledger.clock.now_ns())
        model["available"], model["pending"] = model["pending"], 0
        spent = model["available"] * spent_permille // 1000
        if spent:
            with db.uow() as conn:
                wallet.adjust(
                    conn,
                    ledger,
                    idempotency_key=f"spend-{n}",
                    user_id=user_id,
                    currency_code="TWD",
                    amount=spent,
                    direction="debit",
                    reason="spent",
                    actor="test",
                )
            model["available"] -= spent

    for step, target in enumerate(targets):
        if step == paid_after:
            pay_and_spend()
        for _ in range(2):  # the second time is a repeat: nothing changes
            with db.uow() as conn:
                entry = cashback.adjust_down(conn, ledger, source="shopping", ref=ref, new_amount=target)
        if model["pending"]:
            model["pending"] = target
        else:
            taken = min(current - target, model["available"])
            model["available"] -= taken
            model["debt"] += current - target - taken
        current = target
        if current:
            assert (entry["amount"], entry["status"]) == (
                current,
                "pending" if model["pending"] else "confirmed",
            )
        else:
            assert entry["status"] in ("reversed", "clawed_back")
    if paid_after == len(targets) and current:
        pay_and_spend()

    with db.uow(write=False) as conn:
        view = wallet.view(conn, ledger, user_id, "TWD")
    assert {"pending": view.pending, "available": view.available, "debt": view.debt} == model
    check_ledger_invariants(db)
