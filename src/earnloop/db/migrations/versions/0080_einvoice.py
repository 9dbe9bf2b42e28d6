"""e-invoice carriers and receipts

Revision ID: 0080
Revises: 0050
Create Date: 2026-11-26 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0080"
down_revision: str | None = "0050"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "einvoice_carriers",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("barcode", sa.String(length=8), nullable=False),
        sa.Column("code_encrypted", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_synced_date", sa.Date(), nullable=True),
        sa.Column("last_sync_status", sa.String(length=16), nullable=False),
        sa.Column("last_sync_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'rejected')", name=op.f("ck_einvoice_carriers_status_known")
        ),
        sa.CheckConstraint(
            "last_sync_status IN ('never', 'ok', 'error')",
            name=op.f("ck_einvoice_carriers_sync_status_known"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_einvoice_carriers_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_einvoice_carriers")),
        sa.UniqueConstraint("barcode", name=op.f("uq_einvoice_carriers_barcode")),
    )
    op.create_index("ix_einvoice_carriers_user", "einvoice_carriers", ["user_id"])
    op.create_table(
        "einvoice_receipts",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("carrier_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("invoice_number", sa.String(length=10), nullable=False),
        sa.Column("invoice_date", sa.Date(), nullable=False),
        sa.Column("seller_tax_id", sa.String(length=8), nullable=False),
        sa.Column("seller_name", sa.String(length=120), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("status_changed_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_einvoice_receipts_amount_non_negative")),
        sa.CheckConstraint(
            "status IN ('issued', 'voided', 'returned')", name=op.f("ck_einvoice_receipts_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["carrier_id"],
            ["einvoice_carriers.id"],
            name=op.f("fk_einvoice_receipts_carrier_id_einvoice_carriers"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_einvoice_receipts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_einvoice_receipts")),
        sa.UniqueConstraint("invoice_number", "invoice_date", name=op.f("uq_einvoice_receipts_number_date")),
    )
    op.create_index("ix_einvoice_receipts_user", "einvoice_receipts", ["user_id", "invoice_date"])
    op.create_index("ix_einvoice_receipts_carrier", "einvoice_receipts", ["carrier_id", "invoice_date"])


def downgrade() -> None:
    op.drop_table("einvoice_receipts")
    op.drop_table("einvoice_carriers")
