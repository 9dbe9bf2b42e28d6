"""What a line's user and the credit domain read: the statement (:func:`statement`) and the line's
standing (:func:`line_standing`: open debt, days past due, drawn, limit, the share of statements repaid
on time — the credit score's payment-history features)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from earnloop.currencies import currency
from earnloop.ledger.service import LedgerService
from earnloop.wallet.credit_line.accounts import owed
from earnloop.wallet.credit_line.models import credit_line_movements as movements
from earnloop.wallet.credit_line.models import credit_lines as lines
from earnloop.wallet.credit_line.models import credit_statements as statements
from earnloop.wallet.credit_line.service import view
from earnloop.wallet.credit_line.statements import lines_of, statement_dict
from earnloop.wallet.credit_line.terms import DAY_NS
from earnloop.wallet.ledger_ops import balance_of
from earnloop.wallet.service import debt_account


def statement(conn: Connection, ledger: LedgerService, user_id: int, currency_code: str) -> dict[str, Any]:
    """The latest statement (balance due, minimum, due date, its lines) and what is not billed yet."""
    cur = currency(currency_code)
    line = view(conn, ledger, user_id, cur.code)
    of_user = (statements.c.user_id == user_id) & (statements.c.currency == cur.code)
    last = conn.execute(
        select(statements).where(of_user).order_by(statements.c.period_start_ns.desc())
    ).first()
    mine = (movements.c.user_id == user_id) & (movements.c.currency == cur.code)
    latest = None
    if last is not None:
        latest = statement_dict(last) | {
            "lines": lines_of(conn, mine & (movements.c.statement_id == last.id))
        }
    return {
        "line": line,
        "statement": latest,
        "unbilled": lines_of(conn, mine & movements.c.statement_id.is_(None)),
    }


def line_standing(
    conn: Connection, ledger: LedgerService, user_id: int, now_ns: int | None = None
) -> dict[str, Any]:
    """The user's credit lines summed over its currencies (minor units of each; most users have one):
    ``open_debt`` (everything the user owes as debt, the line's overdue part included), ``line_debt``,
    ``days_past_due`` (of the oldest overdue statement still unpaid; 0 when none), ``drawn``, ``limit``,
    ``available``, ``statements_due`` (statements that reached their due date or were paid) and
    ``repaid_on_time_share`` (of those, the share repaid — at least the minimum — by the due date;
    ``None`` when there is none yet)."""
    now = ledger.clock.now_ns() if now_ns is None else now_ns
    out: dict[str, Any] = {"user_id": user_id, "open_debt": 0, "line_debt": 0, "drawn": 0, "limit": 0}
    out |= {"available": 0, "currencies": []}
    for line in conn.execute(select(lines).where(lines.c.user_id == user_id).order_by(lines.c.currency)):
        cur = currency(str(line.currency))
        o = owed(conn, ledger, line, cur)
        debt = balance_of(conn, ledger, debt_account(user_id, cur))
        out["open_debt"] += 0 if debt is None else debt.debits_posted - debt.credits_posted
        out["line_debt"] += o.line_debt
        out["drawn"] += o.drawn
        out["limit"] += int(line.credit_limit)
        out["available"] += o.available
        out["currencies"].append(cur.code)
    rows = conn.execute(select(statements).where(statements.c.user_id == user_id)).all()
    judged = [r for r in rows if r.state in ("paid", "carried") or (r.state == "overdue")]
    judged = [r for r in judged if r.state != "paid" or r.paid_on_time is not None]
    on_time = sum(1 for r in judged if r.paid_on_time)
    overdue = [int(r.due_at_ns) for r in rows if r.state == "overdue"]
    late = overdue and out["line_debt"] > 0  # repaid as debt (e.g. from cashback): not past due
    out["days_past_due"] = max(0, (now - min(overdue)) // DAY_NS) if late else 0
    out["statements_due"] = len(judged)
    out["repaid_on_time_share"] = on_time / len(judged) if judged else None
    return out
