"""The credit line (issue 17, acceptance 6) on SQLite and PostgreSQL, with the ledger invariants checked
after every step: draw at a merchant, statement, partial repay, overdue → debt (withdrawals frozen),
full repay → limit restored; the refusals (nothing changes), fees shown before the draw, limit changes,
and the standing the credit score reads."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection

from earnloop.auth.service import create_partner, create_user
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import memory_engine, shadowed_default
from earnloop.wallet import service
from earnloop.wallet.credit_line import service as line
from earnloop.wallet.credit_line import standing
from earnloop.wallet.credit_line.errors import (
    CreditLimitExceededError,
    CreditLineFrozenError,
    FeeChangedError,
    OverRepaymentError,
)
from earnloop.wallet.credit_line.terms import Terms
from earnloop.wallet.errors import FrozenError, InsufficientFundsError
from earnloop.wallet.pay import service as pay
from earnloop.wallet.pay.errors import CurrencyMismatchError
from earnloop.wallet.withdrawals import service as withdrawals
from earnloop.wallet.withdrawals.payout_fake import DirectPayoutProvider, FakeBank
from earnloop.worker import credit_statements_due
from tests.integration.ledger_invariants import check_ledger_invariants

RISK = memory_engine(strategies=shadowed_default)
DAY_S = 86_400
DEFAULT_TERMS = Terms()


def _world(conn: Connection, ledger: LedgerService, wallet: int = 0) -> tuple[int, int]:
    user_id = create_user(conn, "lena").id
    service.open_wallet(conn, ledger, user_id, "TWD")
    if wallet:
        _fund(conn, ledger, user_id, wallet, "fund-0")
    merchant_id = create_partner(conn, "Corner Shop", "merchant", "TWD").id
    return user_id, merchant_id


def _fund(conn: Connection, ledger: LedgerService, user_id: int, amount: int, key: str) -> None:
    service.adjust(
        conn,
        ledger,
        idempotency_key=key,
        user_id=user_id,
        currency_code="TWD",
        amount=amount,
        direction="credit",
        reason="test funds",
        actor="test",
    )


def _draw(
    conn: Connection,
    ledger: LedgerService,
    user_id: int,
    merchant_id: int,
    amount: int,
    key: str,
    terms: Terms = DEFAULT_TERMS,
) -> dict[str, Any]:
    q = line.quote(
        conn,
        ledger,
        user_id=user_id,
        currency_code="TWD",
        merchant_id=merchant_id,
        amount=amount,
        terms=terms,
    )
    return line.draw(
        conn,
        ledger,
        idempotency_key=key,
        user_id=user_id,
        currency_code="TWD",
        merchant_id=merchant_id,
        amount=amount,
        fee=q["fee"],
        risk=RISK,
        terms=terms,
    )


def _view(db: Database, ledger: LedgerService, user_id: int) -> dict[str, Any]:
    with db.uow(write=False) as conn:
        return line.view(conn, ledger, user_id, "TWD")


def test_lifecycle_draw_statement_repay_overdue_debt_full_repay(
    db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    with db.uow() as conn:
        user_id, merchant_id = _world(conn, ledger)
        opened = line.open_line(conn, ledger, user_id, "TWD", 10_000)
    assert (opened["limit"], opened["available"], opened["owed"]) == (10_000, 10_000, 0)
    check_ledger_invariants(db)

    # The wallet is empty: the user pays the merchant with the line.
    with db.uow() as conn:
        drawn = _draw(conn, ledger, user_id, merchant_id, 6_000, "draw-1")
        settled = pay.settlement_balance(conn, ledger, merchant_id)
    assert drawn["line"]["drawn"] == 6_000
    assert drawn["line"]["available"] == 4_000
    assert settled["balance"] == 6_000 - 6_000 * pay.DEFAULT_FEE_BPS // pay.BPS  # as by a wallet payment
    check_ledger_invariants(db)
    with db.uow() as conn:  # a retry with the key changes nothing
        assert _draw(conn, ledger, user_id, merchant_id, 6_000, "draw-1") == drawn
    with pytest.raises(CreditLimitExceededError, match="available credit of 4000"), db.uow() as conn:
        _draw(conn, ledger, user_id, merchant_id, 4_001, "draw-2")
    assert _view(db, ledger, user_id)["drawn"] == 6_000
    check_ledger_invariants(db)

    # The period closes: a statement with the balance, the minimum and the due date.
    clock.advance(seconds=30 * DAY_S + 1)
    assert credit_statements_due(db, ledger) == 1
    with db.uow(write=False) as conn:
        st = standing.statement(conn, ledger, user_id, "TWD")["statement"]
    assert (st["balance_due"], st["minimum_due"], st["state"]) == (6_000, 600, "open")
    assert [(x["kind"], x["amount"]) for x in st["lines"]] == [("draw", 6_000)]
    assert st["due_at_ns"] == st["period_end_ns"] + 20 * DAY_S * 10**9
    check_ledger_invariants(db)

    # Partial repay from the wallet (below the minimum).
    with db.uow() as conn:
        _fund(conn, ledger, user_id, 500, "fund-1")
        repaid = line.repay(
            conn, ledger, idempotency_key="repay-1", user_id=user_id, currency_code="TWD", amount=400
        )
    assert repaid["line"]["drawn"] == 5_600
    assert repaid["line"]["available"] == 4_400
    check_ledger_invariants(db)

    # Past the due date with the minimum unpaid: the rest becomes debt, withdrawals are frozen.
    clock.advance(seconds=21 * DAY_S)
    assert credit_statements_due(db, ledger) >= 1
    with db.uow(write=False) as conn:
        wallet = service.view(conn, ledger, user_id, "TWD")
        owed = standing.line_standing(conn, ledger, user_id)
        st = standing.statement(conn, ledger, user_id, "TWD")["statement"]
    assert wallet.debt == 5_600
    assert st["state"] == "overdue"
    assert (owed["open_debt"], owed["line_debt"], owed["drawn"], owed["days_past_due"]) == (
        5_600,
        5_600,
        0,
        1,
    )
    assert owed["repaid_on_time_share"] == 0.0
    check_ledger_invariants(db)
    with db.uow() as conn:
        dest = withdrawals.add_destination(
            conn,
            user_id=user_id,
            kind="bank",
            institution="Test Bank",
            holder_name="L. Holder",
            account_number="0012345678",
            now_ns=ledger.clock.now_ns(),
            risk=RISK,
        )["destination_id"]
    with pytest.raises(FrozenError):
        withdrawals.request_withdrawal(
            db,
            ledger,
            DirectPayoutProvider(FakeBank()),
            idempotency_key="w-1",
            user_id=user_id,
            destination_id=int(dest),
            currency_code="TWD",
            amount=100,
            limits=withdrawals.Limits(min_amount=100, daily_limit=10_000),
            risk=RISK,
        )
    with pytest.raises(CreditLineFrozenError, match="overdue 5600"), db.uow() as conn:
        _draw(conn, ledger, user_id, merchant_id, 1, "draw-3")

    # Full repay: the debt is gone, withdrawals open again, the whole limit is available.
    with db.uow() as conn:
        _fund(conn, ledger, user_id, 6_000, "fund-2")
        full = line.repay(conn, ledger, idempotency_key="repay-2", user_id=user_id, currency_code="TWD")
    assert full["amount"] == 5_600
    assert (full["line"]["owed"], full["line"]["available"]) == (0, 10_000)
    with db.uow(write=False) as conn:
        assert service.view(conn, ledger, user_id, "TWD").debt == 0
        owed = standing.line_standing(conn, ledger, user_id)
        st = standing.statement(conn, ledger, user_id, "TWD")["statement"]
    assert (owed["open_debt"], owed["days_past_due"], st["state"]) == (0, 0, "paid")
    check_ledger_invariants(db)


def test_fee_is_quoted_and_taken_and_a_changed_fee_is_refused(db: Database, ledger: LedgerService) -> None:
    terms = Terms(fee_bps=150)
    with db.uow() as conn:
        user_id, merchant_id = _world(conn, ledger)
        line.open_line(conn, ledger, user_id, "TWD", 5_000)
        q = line.quote(
            conn,
            ledger,
            user_id=user_id,
            currency_code="TWD",
            merchant_id=merchant_id,
            amount=2_000,
            terms=terms,
        )
    assert (q["amount"], q["fee"], q["total"], q["fits"]) == (2_000, 30, 2_030, True)
    with db.uow() as conn:
        service.open_wallet(conn, ledger, user_id, "USD")
        line.open_line(conn, ledger, user_id, "USD", 5_000)
    with pytest.raises(CurrencyMismatchError), db.uow() as conn:  # the merchant settles in TWD
        line.quote(conn, ledger, user_id=user_id, currency_code="USD", merchant_id=merchant_id, amount=1)
    with pytest.raises(FeeChangedError), db.uow() as conn:
        line.draw(
            conn,
            ledger,
            idempotency_key="d",
            user_id=user_id,
            currency_code="TWD",
            merchant_id=merchant_id,
            amount=2_000,
            fee=0,
            risk=RISK,
            terms=terms,
        )
    with db.uow() as conn:
        drawn = _draw(conn, ledger, user_id, merchant_id, 2_000, "d", terms)
    assert (drawn["total"], drawn["line"]["drawn"], drawn["line"]["available"]) == (2_030, 2_030, 2_970)
    check_ledger_invariants(db)


def test_limit_changes_and_refusals_change_nothing(db: Database, ledger: LedgerService) -> None:
    with db.uow() as conn:
        user_id, merchant_id = _world(conn, ledger, wallet=100)
        line.open_line(conn, ledger, user_id, "TWD", 5_000)
        _draw(conn, ledger, user_id, merchant_id, 3_000, "d1")
        lowered = line.set_limit(conn, ledger, user_id, "TWD", 1_000)  # below what is drawn
    assert (lowered["limit"], lowered["drawn"], lowered["available"]) == (1_000, 3_000, 0)
    with pytest.raises(CreditLimitExceededError), db.uow() as conn:
        _draw(conn, ledger, user_id, merchant_id, 1, "d2")
    with pytest.raises(OverRepaymentError), db.uow() as conn:
        line.repay(conn, ledger, idempotency_key="r0", user_id=user_id, currency_code="TWD", amount=3_001)
    with pytest.raises(InsufficientFundsError), db.uow() as conn:
        line.repay(conn, ledger, idempotency_key="r1", user_id=user_id, currency_code="TWD", amount=2_500)
    assert _view(db, ledger, user_id)["drawn"] == 3_000
    with db.uow() as conn:  # a top-up recorded by an operator repays too
        after = line.repay(
            conn,
            ledger,
            idempotency_key="r2",
            user_id=user_id,
            currency_code="TWD",
            amount=2_500,
            source="topup",
        )
    assert (after["line"]["drawn"], after["line"]["available"]) == (500, 500)
    with db.uow() as conn:
        raised = line.set_limit(conn, ledger, user_id, "TWD", 8_000)
    assert (raised["available"], raised["drawn"]) == (7_500, 500)
    check_ledger_invariants(db)


def test_minimum_paid_by_the_due_date_carries_the_rest_without_debt(
    db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    with db.uow() as conn:
        user_id, merchant_id = _world(conn, ledger, wallet=1_000)
        line.open_line(conn, ledger, user_id, "TWD", 5_000)
        _draw(conn, ledger, user_id, merchant_id, 4_000, "d1")
    clock.advance(seconds=30 * DAY_S + 1)
    credit_statements_due(db, ledger)
    with db.uow() as conn:  # the minimum is 400
        line.repay(conn, ledger, idempotency_key="r1", user_id=user_id, currency_code="TWD", amount=400)
    clock.advance(seconds=21 * DAY_S)
    credit_statements_due(db, ledger)
    with db.uow(write=False) as conn:
        st = standing.statement(conn, ledger, user_id, "TWD")
        owed = standing.line_standing(conn, ledger, user_id)
        debt = service.view(conn, ledger, user_id, "TWD").debt
    assert (st["statement"]["state"], st["statement"]["remaining"]) == ("carried", 3_600)
    assert (debt, owed["days_past_due"], owed["drawn"], owed["repaid_on_time_share"]) == (0, 0, 3_600, 1.0)
    check_ledger_invariants(db)
