"""Carriers and receipts: bind a mobile barcode carrier, sync its invoices from an :class:`EInvoiceSource`.

Functions take the caller's connection and never commit. Calling the platform inside a write transaction
would hold the writer lock (SQLite) for the length of a network call, so the HTTP API splits both flows:
:func:`verify_pair` / :func:`collect` talk to the platform (no writes), then :func:`store_carrier` /
:func:`apply_sync` write in a short transaction. :func:`bind_carrier` and :func:`sync_carrier` chain them
on one connection (tests). The worker's sweep (:mod:`earnloop.einvoice.sweep`) finds carriers due with
:func:`due_carrier_ids` and takes each with :func:`claim_for_sync` (a guarded UPDATE) before syncing it.

Sync is incremental by date: headers from ``last_synced_date - RECHECK_DAYS`` (voids and returns of
recent invoices show up there) to ``today``, one query per calendar month; details only for invoices not
seen yet. A receipt is unique on (invoice number, invoice date) across all carriers. A platform failure
is recorded on the carrier (``last_sync_status = error``, ``last_error``) and returned, not raised.

Rewards are not paid here: :func:`sync_carrier` returns the receipts that became ``issued`` (``new``)
and those that turned ``voided`` / ``returned`` (``reversed``) so the caller can match seller tax ids to
partner merchants and call ``wallet.cashback.service.credit_pending`` / ``reverse`` (source ``einvoice``, ref
``<invoice number>:<yyyymmdd>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, insert, or_, select, union_all, update
from sqlalchemy.exc import IntegrityError

from earnloop.currencies import UnknownCurrencyError, currency
from earnloop.einvoice.cipher import CipherError, CodeCipher
from earnloop.einvoice.errors import (
    CarrierNotFoundError,
    CarrierRejectedError,
    CarrierTakenError,
    InvalidBarcodeError,
    InvalidVerificationCodeError,
    SourceUnavailableError,
)
from earnloop.einvoice.models import einvoice_carriers as carriers
from earnloop.einvoice.models import einvoice_receipts as receipts
from earnloop.einvoice.source import (
    CredentialsRejectedError,
    EInvoiceSource,
    InvoiceDetail,
    InvoiceHeader,
    SourceError,
)

BARCODE_RE = re.compile(r"^/[0-9A-Z.+\-]{7}$")
CODE_RE = re.compile(r"^[\x21-\x7e]{4,16}$")  # printable ASCII, no spaces
INVOICE_NUMBER_RE = re.compile(r"^[A-Z]{2}\d{8}$")
TAX_ID_RE = re.compile(r"^\d{8}$")
INITIAL_LOOKBACK_DAYS = 60
RECHECK_DAYS = 60
LIST_MAX = 500
REWARD_SOURCE = "einvoice"
TAIPEI = ZoneInfo("Asia/Taipei")  # invoice dates are the platform's calendar days

Key = tuple[str, date]


def normalise_barcode(barcode: str) -> str:
    """``/`` followed by 7 of ``0-9 A-Z . + -`` (letters are upper-cased)."""
    value = barcode.strip().upper()
    if not BARCODE_RE.match(value):
        raise InvalidBarcodeError("barcode: '/' followed by 7 characters of 0-9 A-Z . + -")
    return value


def _check_code(verification_code: str) -> None:
    if not CODE_RE.match(verification_code):
        raise InvalidVerificationCodeError("verification code: 4–16 printable characters, no spaces")


def reward_ref(invoice_number: str, invoice_date: date) -> str:
    return f"{invoice_number}:{invoice_date:%Y%m%d}"


def taipei_today(now_ns: int) -> date:
    """The calendar day in Taiwan at ``now_ns`` (the end of a sync window)."""
    return datetime.fromtimestamp(now_ns // 1_000_000_000, TAIPEI).date()


# -- binding --------------------------------------------------------------------------------------------
def verify_pair(source: EInvoiceSource, barcode: str, verification_code: str, today: date) -> str:
    """Check format, then ask the platform (a one-day header query). Returns the normalised barcode."""
    value = normalise_barcode(barcode)
    _check_code(verification_code)
    try:
        source.carrier_headers(value, verification_code, today, today)
    except CredentialsRejectedError as exc:
        raise CarrierRejectedError("the platform refused this barcode / verification code") from exc
    except SourceError as exc:
        raise SourceUnavailableError(str(exc)) from exc
    return value


def store_carrier(
    conn: Connection, cipher: CodeCipher, *, user_id: int, barcode: str, verification_code: str, now_ns: int
) -> dict[str, Any]:
    """Store an already verified pair, the code encrypted. A barcode is bound once (409 otherwise)."""
    value = normalise_barcode(barcode)
    _check_code(verification_code)
    values = {
        "user_id": user_id,
        "barcode": value,
        "code_encrypted": cipher.encrypt(verification_code),
        "status": "active",
        "last_synced_date": None,
        "last_sync_status": "never",
        "created_at_ns": now_ns,
    }
    with conn.begin_nested():
        try:
            carrier_id = conn.execute(insert(carriers).values(**values).returning(carriers.c.id)).scalar_one()
        except IntegrityError as exc:
            raise CarrierTakenError(f"barcode {value} is already bound") from exc
    return _carrier(conn, int(carrier_id))


def bind_carrier(
    conn: Connection,
    source: EInvoiceSource,
    cipher: CodeCipher,
    *,
    user_id: int,
    barcode: str,
    verification_code: str,
    today: date,
    now_ns: int,
) -> dict[str, Any]:
    """Validate, verify against the platform, store. Nothing is stored when any step fails."""
    value = verify_pair(source, barcode, verification_code, today)
    return store_carrier(
        conn, cipher, user_id=user_id, barcode=value, verification_code=verification_code, now_ns=now_ns
    )


def carriers_for(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(carriers).where(carriers.c.user_id == user_id).order_by(carriers.c.id))
    return [_carrier_dict(r._mapping) for r in rows]


def carrier_for_user(conn: Connection, user_id: int, carrier_id: int) -> dict[str, Any]:
    """The user's carrier (404 when it is someone else's)."""
    found = _carrier(conn, carrier_id)
    if found["user_id"] != user_id:
        raise CarrierNotFoundError(f"no carrier {carrier_id}")
    return found


def _carrier(conn: Connection, carrier_id: int) -> dict[str, Any]:
    row = conn.execute(select(carriers).where(carriers.c.id == carrier_id)).first()
    if row is None:
        raise CarrierNotFoundError(f"no carrier {carrier_id}")
    return _carrier_dict(row._mapping)


def _carrier_dict(row: Any) -> dict[str, Any]:
    synced = row["last_synced_date"]
    return {
        "carrier_id": int(row["id"]),
        "user_id": int(row["user_id"]),
        "barcode": row["barcode"],
        "status": row["status"],
        "last_synced_date": synced.isoformat() if synced else None,
        "last_sync_status": row["last_sync_status"],
        "last_sync_at_ns": row["last_sync_at_ns"],
        "last_error": row["last_error"],
    }


# -- sync -----------------------------------------------------------------------------------------------
@dataclass
class SyncPlan:
    """What the platform said, gathered without writing (see :func:`collect`)."""

    carrier_id: int
    start: date
    end: date
    headers: list[InvoiceHeader] = field(default_factory=list)
    details: dict[Key, InvoiceDetail] = field(default_factory=dict)
    error: str | None = None
    rejected: bool = False


def month_windows(start: date, end: date) -> list[tuple[date, date]]:
    """``start``..``end`` cut at calendar-month boundaries (one platform query each)."""
    windows = []
    cursor = start
    while cursor <= end:
        next_month = (cursor.replace(day=1) + timedelta(days=32)).replace(day=1)
        last = min(end, next_month - timedelta(days=1))
        windows.append((cursor, last))
        cursor = next_month
    return windows


def collect(
    conn: Connection, source: EInvoiceSource, cipher: CodeCipher, carrier_id: int, today: date
) -> SyncPlan:
    """Ask the platform for the carrier's headers in the sync window and the details of unseen ones.
    Reads only; a platform failure is captured in the plan."""
    row = conn.execute(select(carriers).where(carriers.c.id == carrier_id)).first()
    if row is None:
        raise CarrierNotFoundError(f"no carrier {carrier_id}")
    last: date | None = row.last_synced_date
    start = (last - timedelta(days=RECHECK_DAYS)) if last else today - timedelta(days=INITIAL_LOOKBACK_DAYS)
    plan = SyncPlan(carrier_id, min(start, today), today)
    try:
        code = cipher.decrypt(row.code_encrypted)
    except CipherError as exc:
        plan.error = str(exc)
        return plan
    known = _known_keys(conn, plan.start, plan.end)
    try:
        for first, last_day in month_windows(plan.start, plan.end):
            plan.headers.extend(source.carrier_headers(row.barcode, code, first, last_day))
        for header in plan.headers:
            key = (header.invoice_number, header.invoice_date)
            if key not in known and key not in plan.details:
                plan.details[key] = source.carrier_detail(row.barcode, code, *key)
    except CredentialsRejectedError as exc:
        plan.error, plan.rejected = str(exc), True
    except SourceError as exc:
        plan.error = str(exc)
    if plan.error:
        plan.headers, plan.details = [], {}
    return plan


def _known_keys(conn: Connection, start: date, end: date) -> set[Key]:
    rows = conn.execute(
        select(receipts.c.invoice_number, receipts.c.invoice_date).where(
            receipts.c.invoice_date.between(start, end)
        )
    )
    return {(r.invoice_number, r.invoice_date) for r in rows}


def apply_sync(conn: Connection, plan: SyncPlan, now_ns: int) -> dict[str, Any]:
    """Write what :func:`collect` gathered: new receipts, status changes, the carrier's sync status."""
    carrier = _carrier(conn, plan.carrier_id)
    result: dict[str, Any] = {
        "carrier_id": plan.carrier_id,
        "user_id": carrier["user_id"],
        "window": {"start": plan.start.isoformat(), "end": plan.end.isoformat()},
        "new": [],
        "reversed": [],
        "skipped": 0,
        "error": plan.error,
    }
    if plan.error is not None:
        conn.execute(
            update(carriers)
            .where(carriers.c.id == plan.carrier_id)
            .values(
                last_sync_status="error",
                last_error=plan.error[:300],
                last_sync_at_ns=now_ns,
                status="rejected" if plan.rejected else carrier["status"],
            )
        )
        result["status"] = "error"
        return result
    existing = {
        (r.invoice_number, r.invoice_date): r
        for r in conn.execute(select(receipts).where(receipts.c.invoice_date.between(plan.start, plan.end)))
    }
    for header in plan.headers:
        key = (header.invoice_number, header.invoice_date)
        row = existing.get(key)
        if row is None:
            created = _insert_receipt(conn, plan, carrier["user_id"], plan.details.get(key), now_ns)
            if created is None:
                result["skipped"] += 1
            elif created["status"] == "issued":
                result["new"].append(created)
            continue
        status = header.status
        if (
            row.carrier_id != plan.carrier_id
            or status not in ("voided", "returned")
            or row.status != "issued"
        ):
            continue
        changed = conn.execute(
            update(receipts)
            .where(receipts.c.id == row.id, receipts.c.status == "issued")
            .values(status=status, status_changed_at_ns=now_ns)
        ).rowcount
        if changed == 1:
            result["reversed"].append({**_receipt_dict(row._mapping), "status": status})
    conn.execute(
        update(carriers)
        .where(carriers.c.id == plan.carrier_id)
        .values(
            status="active",
            last_synced_date=plan.end,
            last_sync_status="ok",
            last_error=None,
            last_sync_at_ns=now_ns,
        )
    )
    result["status"] = "ok"
    return result


def _insert_receipt(
    conn: Connection, plan: SyncPlan, user_id: int, detail: InvoiceDetail | None, now_ns: int
) -> dict[str, Any] | None:
    """Insert a receipt from its detail; ``None`` when unreadable or already recorded (a race)."""
    if detail is None:
        return None
    h = detail.header
    status = h.status
    amount = _minor_units(h.amount, h.currency)
    if (
        status is None
        or amount is None
        or not INVOICE_NUMBER_RE.match(h.invoice_number)
        or not TAX_ID_RE.match(h.seller_tax_id)
    ):
        return None
    values = {
        "carrier_id": plan.carrier_id,
        "user_id": user_id,
        "invoice_number": h.invoice_number,
        "invoice_date": h.invoice_date,
        "seller_tax_id": h.seller_tax_id,
        "seller_name": h.seller_name,
        "currency": h.currency,
        "amount": amount,
        "status": status,
        "created_at_ns": now_ns,
        "status_changed_at_ns": now_ns,
    }
    with conn.begin_nested():
        try:
            receipt_id = conn.execute(insert(receipts).values(**values).returning(receipts.c.id)).scalar_one()
        except IntegrityError:
            return None
    return _receipt_dict({**values, "id": receipt_id})


def _minor_units(amount: Decimal, code: str) -> int | None:
    try:
        digits = currency(code).exponent
    except UnknownCurrencyError:
        return None
    scaled = amount.scaleb(digits)
    if amount < 0 or scaled != scaled.to_integral_value():
        return None
    return int(scaled)


def _due(cutoff_ns: int) -> tuple[ColumnElement[bool], ...]:
    return (
        carriers.c.status == "active",
        or_(carriers.c.last_sync_at_ns.is_(None), carriers.c.last_sync_at_ns <= cutoff_ns),
    )


def due_carrier_ids(
    conn: Connection, cutoff_ns: int, *, after_id: int = 0, limit: int = LIST_MAX
) -> list[int]:
    """Active carriers never synced or last synced (tried) at or before ``cutoff_ns``, by id after
    ``after_id``. Rejected carriers wait for their user: the platform refused their stored code."""
    # Two range scans of ix_einvoice_carriers_due (never tried; tried before the cutoff) instead of an OR,
    # which the databases answer by reading every active carrier.
    active = (carriers.c.status == "active", carriers.c.id > after_id)
    never = select(carriers.c.id).where(*active, carriers.c.last_sync_at_ns.is_(None))
    stale = select(carriers.c.id).where(*active, carriers.c.last_sync_at_ns <= cutoff_ns)
    due = union_all(never, stale).subquery()
    rows = conn.execute(select(due.c.id).order_by(due.c.id).limit(limit))
    return [int(r.id) for r in rows]


def claim_for_sync(conn: Connection, carrier_id: int, cutoff_ns: int, now_ns: int) -> bool:
    """Take a due carrier for a background sync (guarded UPDATE of ``last_sync_at_ns``): of concurrent
    sweeps, exactly one gets ``True`` until the carrier is due again."""
    claimed = conn.execute(
        update(carriers).where(carriers.c.id == carrier_id, *_due(cutoff_ns)).values(last_sync_at_ns=now_ns)
    )
    return claimed.rowcount == 1


def record_sync_error(conn: Connection, carrier_id: int, message: str, now_ns: int) -> dict[str, Any]:
    """Record a failed sync on the carrier (status ``error``, ``last_error``) without changing its window."""
    today = taipei_today(now_ns)
    return apply_sync(conn, SyncPlan(carrier_id, today, today, error=message), now_ns)


def sync_carrier(
    conn: Connection, source: EInvoiceSource, carrier_id: int, today: date, *, cipher: CodeCipher, now_ns: int
) -> dict[str, Any]:
    """Sync one carrier on one connection. Returns ``{"status": "ok"|"error", "new": […],
    "reversed": […], "error": …}``; a platform failure is recorded on the carrier, not raised."""
    return apply_sync(conn, collect(conn, source, cipher, carrier_id, today), now_ns)


# -- receipts -------------------------------------------------------------------------------------------
def receipts_for(conn: Connection, user_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
    """The user's receipts, newest invoice first."""
    rows = conn.execute(
        select(receipts)
        .where(receipts.c.user_id == user_id)
        .order_by(receipts.c.invoice_date.desc(), receipts.c.id.desc())
        .limit(min(limit, LIST_MAX))
    )
    return [_receipt_dict(r._mapping) for r in rows]


def _receipt_dict(row: Any) -> dict[str, Any]:
    day: date = row["invoice_date"]
    return {
        "receipt_id": int(row["id"]),
        "carrier_id": int(row["carrier_id"]),
        "user_id": int(row["user_id"]),
        "invoice_number": row["invoice_number"],
        "invoice_date": day.isoformat(),
        "seller_tax_id": row["seller_tax_id"],
        "seller_name": row["seller_name"],
        "currency": row["currency"],
        "amount": int(row["amount"]),
        "status": row["status"],
        "reward_ref": reward_ref(row["invoice_number"], day),
    }
