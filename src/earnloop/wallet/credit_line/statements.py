"""Credit-line statements (ADR 0034): a sweep closes each line's period into a statement (balance due,
minimum, due date = close + grace days, its lines), repayments count against every unpaid statement,
and a statement past its due date whose minimum was not paid turns overdue: its unpaid amount moves
from the line to ``USER_DEBT`` (the existing debt rules then freeze withdrawals). A statement whose
minimum was paid is ``carried``: the rest is in the next statement.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update

from earnloop.currencies import currency
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import Transfer
from earnloop.wallet.chart import TransferKind, transfer_id
from earnloop.wallet.credit_line.accounts import debt_account, drawn_account, owed
from earnloop.wallet.credit_line.models import credit_line_movements as movements
from earnloop.wallet.credit_line.models import credit_lines as lines
from earnloop.wallet.credit_line.models import credit_statements as statements
from earnloop.wallet.credit_line.terms import DAY_NS, Terms
from earnloop.wallet.ledger_ops import submit

BATCH_MAX = 500
UNPAID = ("open", "overdue")


def close_due(conn: Connection, ledger: LedgerService, now_ns: int, terms: Terms) -> int:
    """Close every line period that ended by ``now_ns`` (one period per line per call). Returns the count."""
    cycle_ns = terms.cycle_days * DAY_NS
    due = conn.execute(
        select(lines.c.user_id, lines.c.currency)
        .where(lines.c.cycle_start_ns <= now_ns - cycle_ns)
        .order_by(lines.c.cycle_start_ns)
        .limit(BATCH_MAX)
    ).all()
    for user_id, code in due:
        line = conn.execute(
            select(lines).where(lines.c.user_id == user_id, lines.c.currency == code).with_for_update()
        ).one()
        if int(line.cycle_start_ns) <= now_ns - cycle_ns:  # not closed by a concurrent sweep
            _close(conn, ledger, line, now_ns, terms)
    return len(due)


def _close(conn: Connection, ledger: LedgerService, line: Any, now_ns: int, terms: Terms) -> None:
    start = int(line.cycle_start_ns)
    end = start + terms.cycle_days * DAY_NS
    key = (lines.c.user_id == line.user_id) & (lines.c.currency == line.currency)
    conn.execute(update(lines).where(key).values(cycle_start_ns=end))
    balance = _balance_at(conn, ledger, line, end)
    if balance <= 0:
        return
    minimum = terms.minimum(balance)
    statement_id = conn.execute(
        insert(statements).values(
            user_id=line.user_id,
            currency=line.currency,
            period_start_ns=start,
            period_end_ns=end,
            balance_due=balance,
            minimum_due=minimum,
            due_at_ns=end + terms.grace_days * DAY_NS,
            repaid=0,
            state="open",
            closed_at_ns=now_ns,
        )
    ).inserted_primary_key
    assert statement_id is not None
    conn.execute(
        update(movements)
        .where(_of_line(line), movements.c.created_at_ns >= start, movements.c.created_at_ns < end)
        .where(movements.c.statement_id.is_(None))
        .values(statement_id=statement_id[0])
    )


def _of_line(line: Any) -> Any:
    return and_(movements.c.user_id == line.user_id, movements.c.currency == line.currency)


def _balance_at(conn: Connection, ledger: LedgerService, line: Any, end: int) -> int:
    """What was owed at ``end``: owed now, less what was drawn since, plus what was repaid since."""
    since = conn.execute(
        select(movements.c.kind, func.sum(movements.c.amount + movements.c.fee))
        .where(_of_line(line), movements.c.created_at_ns >= end, movements.c.kind.in_(("draw", "repay")))
        .group_by(movements.c.kind)
    ).all()
    moved = {str(kind): int(total) for kind, total in since}
    now = owed(conn, ledger, line, currency(str(line.currency))).total
    return now - moved.get("draw", 0) + moved.get("repay", 0)


def apply_repayment(conn: Connection, user_id: int, currency_code: str, amount: int, now_ns: int) -> None:
    """Count a repayment against every unpaid statement (each statement's balance includes the ones
    before it); a statement repaid in full is ``paid`` (on time if by its due date)."""
    of_user = (statements.c.user_id == user_id) & (statements.c.currency == currency_code)
    unpaid = of_user & statements.c.state.in_(UNPAID)
    conn.execute(update(statements).where(unpaid).values(repaid=statements.c.repaid + amount))
    settled = unpaid & (statements.c.repaid >= statements.c.balance_due)
    conn.execute(
        update(statements)
        .where(settled)
        .values(state="paid", paid_at_ns=now_ns, paid_on_time=statements.c.due_at_ns >= now_ns)
    )


def mark_overdue(conn: Connection, ledger: LedgerService, now_ns: int) -> int:
    """Statements past their due date: minimum paid → ``carried``; else ``overdue`` and the unpaid
    amount becomes debt. Returns how many statements changed."""
    due = (
        conn.execute(
            select(statements.c.id)
            .where(statements.c.state == "open", statements.c.due_at_ns < now_ns)
            .order_by(statements.c.due_at_ns)
            .limit(BATCH_MAX)
        )
        .scalars()
        .all()
    )
    for statement_id in due:
        _overdue(conn, ledger, int(statement_id), now_ns)
    return len(due)


def _overdue(conn: Connection, ledger: LedgerService, statement_id: int, now_ns: int) -> None:
    st = conn.execute(select(statements).where(statements.c.id == statement_id)).one()
    line = conn.execute(
        select(lines).where(lines.c.user_id == st.user_id, lines.c.currency == st.currency).with_for_update()
    ).one()
    st = conn.execute(select(statements).where(statements.c.id == statement_id)).one()  # after the lock
    if st.state != "open":
        return
    mine = statements.c.id == statement_id
    if int(st.repaid) >= int(st.minimum_due):
        conn.execute(update(statements).where(mine).values(state="carried", paid_on_time=True))
        return
    cur = currency(str(st.currency))
    before = owed(conn, ledger, line, cur)
    move = min(int(st.balance_due) - int(st.repaid), before.drawn)
    conn.execute(update(statements).where(mine).values(state="overdue"))
    if move <= 0:
        return
    user_id = int(line.user_id)
    xfer = Transfer(
        id=transfer_id("credit_line.overdue", statement_id),
        debit_account_id=debt_account(user_id, cur).id,
        credit_account_id=drawn_account(user_id, cur).id,
        amount=move,
        ledger=cur.ledger,
        code=int(TransferKind.CREDIT_OVERDUE),
        user_data_64=user_id,
    )
    submit(conn, ledger, [xfer])
    key = (lines.c.user_id == line.user_id) & (lines.c.currency == line.currency)
    conn.execute(
        update(lines).where(key).values(line_debt=before.line_debt + move, version=lines.c.version + 1)
    )
    conn.execute(
        insert(movements).values(
            user_id=user_id,
            currency=cur.code,
            kind="overdue",
            amount=move,
            fee=0,
            reference=f"statement:{statement_id}",
            created_at_ns=now_ns,
        )
    )


def statement_dict(row: Any) -> dict[str, Any]:
    return {
        "statement_id": int(row.id),
        "period_start_ns": int(row.period_start_ns),
        "period_end_ns": int(row.period_end_ns),
        "balance_due": int(row.balance_due),
        "minimum_due": int(row.minimum_due),
        "due_at_ns": int(row.due_at_ns),
        "repaid": int(row.repaid),
        "remaining": max(0, int(row.balance_due) - int(row.repaid)),
        "state": str(row.state),
    }


def lines_of(conn: Connection, where: Any) -> list[dict[str, Any]]:
    rows = conn.execute(select(movements).where(where).order_by(movements.c.created_at_ns, movements.c.id))
    return [
        {
            "kind": str(r.kind),
            "amount": int(r.amount),
            "fee": int(r.fee),
            "merchant_id": r.merchant_id,
            "reference": r.reference,
            "at_ns": int(r.created_at_ns),
        }
        for r in rows
        if r.kind != "limit"
    ]
