"""Partner report import: a CSV file of conversion updates for one merchant, header
``order_id,click_id,status,order_amount,currency,category,event_time`` (any column order).

Each row goes through the same path as a postback (:func:`earnloop.affiliate.conversions.apply_update`)
and is recorded with its outcome. Valid rows are applied and invalid ones listed (row number, reason):
a partner's report routinely holds orders we cannot take (clicks that are not ours, orders already
closed), so one such row must not block the rest; re-importing the same file changes nothing, since
every applied row is a duplicate the second time. An unreadable file (not UTF-8, wrong header, too
large) is refused as a whole: nothing is imported.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy import Connection

from earnloop.affiliate.conversions import (
    FIELDS,
    ConversionUpdate,
    Outcome,
    apply_update,
    parse_update,
    rejected,
)
from earnloop.affiliate.errors import ReportRejectedError, UpdateRejected
from earnloop.affiliate.postbacks import record
from earnloop.catalog import service as catalog
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine

REPORT_MAX_BYTES = 10 * 1024 * 1024
REPORT_MAX_ROWS = 50_000


def read_rows(content: str) -> list[dict[str, str]]:
    """The data rows of a report, or :class:`ReportRejectedError` for an unreadable file."""
    if len(content.encode()) > REPORT_MAX_BYTES:
        raise ReportRejectedError(f"a report is at most {REPORT_MAX_BYTES // (1024 * 1024)} MiB")
    reader = csv.DictReader(io.StringIO(content.removeprefix("\ufeff"), newline=""), restkey="", restval="")
    try:
        header = list(reader.fieldnames or [])
        if sorted(header) != sorted(FIELDS):
            shown = ",".join(header) or "nothing"
            raise ReportRejectedError(f"the header must be {','.join(FIELDS)} (got {shown})")
        rows = [dict(row) for row in reader]
    except csv.Error as exc:
        raise ReportRejectedError(f"line {reader.line_num}: {exc}") from None
    if len(rows) > REPORT_MAX_ROWS:
        raise ReportRejectedError(f"a report has at most {REPORT_MAX_ROWS} rows")
    return rows


def import_report(
    conn: Connection, ledger: LedgerService, *, merchant_id: int, content: str, now_ns: int, risk: RiskEngine
) -> dict[str, Any]:
    """Apply every row of a report; returns the counts and the rejected rows. Never commits."""
    catalog.get_merchant(conn, merchant_id)
    rows = read_rows(content)
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    errors: list[dict[str, Any]] = []
    for number, cells in enumerate(rows, start=1):
        outcome, change = _row_outcome(conn, ledger, merchant_id, cells, now_ns, risk)
        counts[outcome.outcome] += 1
        if outcome.outcome == "rejected":
            errors.append(
                {
                    "row": number,
                    "order_id": cells.get("order_id") or None,
                    "reason_code": outcome.reason_code,
                    "message": outcome.message,
                }
            )
        record(
            conn,
            merchant_id=merchant_id,
            channel="report",
            row_number=number,
            headers={},
            body=json.dumps(cells, ensure_ascii=False).encode(),
            client_ip="",
            outcome=outcome,
            change=change,
            now_ns=now_ns,
        )
    return {
        "merchant_id": merchant_id,
        "rows": len(rows),
        "accepted": counts["accepted"],
        "duplicates": counts["duplicate"],
        "rejected": counts["rejected"],
        "errors": errors,
    }


def _row_outcome(
    conn: Connection,
    ledger: LedgerService,
    merchant_id: int,
    cells: dict[str, Any],
    now_ns: int,
    risk: RiskEngine,
) -> tuple[Outcome, ConversionUpdate | None]:
    if "" in cells:
        return rejected("malformed", f"more cells than the {len(FIELDS)} columns"), None
    try:
        change = parse_update(cells)
    except UpdateRejected as exc:
        return rejected(exc.code, exc.message), None
    return apply_update(
        conn, ledger, merchant_id=merchant_id, change=change, now_ns=now_ns, risk=risk
    ), change
