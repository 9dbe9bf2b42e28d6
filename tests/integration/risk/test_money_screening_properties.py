"""Whatever the risk engine decides and whatever reviewers do, a withdrawal never loses money nor pays
without a decision that allows it: hypothesis drives withdrawals of random amounts through a strategy
that allows, holds or refuses by amount, and random reviewer decisions, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection

from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import StaticStrategySource, memory_engine
from earnloop.risk.rules import Rule, Strategy, compile_strategy
from earnloop.wallet import service
from earnloop.wallet.screening import RiskDeniedError
from earnloop.wallet.withdrawals import reviews
from earnloop.wallet.withdrawals import service as withdrawals
from earnloop.wallet.withdrawals.payout_fake import DirectPayoutProvider, FakeBank
from tests.integration.wallet_support import funded_user

BY_AMOUNT = Strategy(
    "money-props-1",
    (
        Rule("refused", 'kind == "withdrawal" && amount >= 3000', "block", 100),
        Rule("held", 'kind == "withdrawal" && amount >= 1000 && amount < 3000', "review", 10),
    ),
)
RISK = memory_engine(strategies=lambda fields: StaticStrategySource(compile_strategy(BY_AMOUNT, fields)))
LIMITS = withdrawals.Limits(min_amount=100, daily_limit=10**12)
FUNDS = 50_000
HANDLES = itertools.count()
STEP = st.tuples(st.integers(min_value=100, max_value=4_000), st.sampled_from(["approve", "reject", "wait"]))


def _funded_user(conn: Connection, ledger: LedgerService) -> tuple[int, int]:
    handle = f"prop-{next(HANDLES)}"
    user_id = funded_user(conn, ledger, handle, FUNDS)
    created = withdrawals.add_destination(
        conn,
        user_id=user_id,
        kind="bank",
        institution="Test Bank",
        holder_name="P. Roperty",
        account_number=f"PROP{handle[5:]:0>6}",
        now_ns=ledger.clock.now_ns(),
        risk=RISK,
    )
    return user_id, int(created["destination_id"])


@given(steps=st.lists(STEP, min_size=1, max_size=8))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_money_is_lost_and_nothing_is_paid_unreviewed(
    db: Database, ledger: LedgerService, steps: list[tuple[int, str]]
) -> None:
    bank = FakeBank()
    provider = DirectPayoutProvider(bank)
    with db.uow() as conn:
        user_id, dest = _funded_user(conn, ledger)
    held_amount, allowed_paid = 0, 0
    for index, (amount, verb) in enumerate(steps):
        try:
            made = withdrawals.request_withdrawal(
                db,
                ledger,
                provider,
                idempotency_key=f"k-{index}",
                user_id=user_id,
                destination_id=dest,
                currency_code="TWD",
                amount=amount,
                limits=LIMITS,
                risk=RISK,
            )
        except RiskDeniedError:
            assert amount >= 3_000
            continue
        if amount < 1_000:
            assert made["state"] == "paid"
            allowed_paid += amount
            continue
        assert made["state"] == "in_review"
        assert made["request_id"] not in bank.submissions
        if verb == "wait":
            held_amount += amount
            continue
        decided = reviews.review_withdrawal(
            db, ledger, provider, int(made["withdrawal_id"]), approve=verb == "approve", reviewer="r", note=""
        )
        assert decided["state"] == ("paid" if verb == "approve" else "rejected")
        allowed_paid += amount if verb == "approve" else 0
    with db.uow(write=False) as conn:
        view = service.view(conn, ledger, user_id, "TWD")
    assert bank.paid_total() == allowed_paid
    assert (view.available, view.held) == (FUNDS - allowed_paid - held_amount, held_amount)
