"""Tables of the e-invoice domain: bound carriers and the receipts synced from them.

``code_encrypted`` is the carrier's verification code encrypted with :mod:`earnloop.einvoice.cipher`
(Fernet); it is never returned by the service nor logged.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from earnloop.db.metadata import metadata
from earnloop.db.types import SERIAL_ID

CARRIER_STATUSES = ("active", "rejected")
SYNC_STATUSES = ("never", "ok", "error")
RECEIPT_STATUSES = ("issued", "voided", "returned")

einvoice_carriers = Table(
    "einvoice_carriers",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("barcode", String(8), nullable=False, unique=True),
    Column("code_encrypted", Text, nullable=False),
    # active, or rejected: the platform refused the stored code at a sync (the user must bind again)
    Column("status", String(16), nullable=False),
    Column("last_synced_date", Date, nullable=True),  # the last day fully synced (Asia/Taipei)
    Column("last_sync_status", String(16), nullable=False),
    Column("last_sync_at_ns", BigInteger, nullable=True),
    Column("last_error", String(300), nullable=True),
    Column("created_at_ns", BigInteger, nullable=False),
    CheckConstraint("status IN ('active', 'rejected')", name="status_known"),
    CheckConstraint("last_sync_status IN ('never', 'ok', 'error')", name="sync_status_known"),
    Index("ix_einvoice_carriers_user", "user_id"),
    Index("ix_einvoice_carriers_due", "status", "last_sync_at_ns"),  # the worker's due-carrier query
)

einvoice_receipts = Table(
    "einvoice_receipts",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("carrier_id", BigInteger, ForeignKey("einvoice_carriers.id"), nullable=False),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("invoice_number", String(10), nullable=False),  # 2 letters + 8 digits
    Column("invoice_date", Date, nullable=False),
    Column("seller_tax_id", String(8), nullable=False),  # 統一編號
    Column("seller_name", String(120), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),  # minor units
    Column("status", String(16), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("status_changed_at_ns", BigInteger, nullable=False),
    CheckConstraint("amount >= 0", name="amount_non_negative"),
    CheckConstraint("status IN ('issued', 'voided', 'returned')", name="status_known"),
    UniqueConstraint("invoice_number", "invoice_date", name="uq_einvoice_receipts_number_date"),
    Index("ix_einvoice_receipts_user", "user_id", "invoice_date"),
    Index("ix_einvoice_receipts_carrier", "carrier_id", "invoice_date"),
)
