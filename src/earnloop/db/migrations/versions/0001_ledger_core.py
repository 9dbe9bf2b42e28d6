"""Ledger core: accounts, transfers, pending status, failed ids, balance history, clock.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 15:44:39.619416
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("ledger", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("user_data_128", sa.LargeBinary(length=16), nullable=False),
        sa.Column("user_data_64", sa.BigInteger(), nullable=False),
        sa.Column("user_data_32", sa.BigInteger(), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("debits_pending", sa.BigInteger(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "(flags & 2) = 0 OR debits_pending + debits_posted <= credits_posted",
            name=op.f("ck_ledger_accounts_debits_must_not_exceed_credits"),
        ),
        sa.CheckConstraint(
            "(flags & 4) = 0 OR credits_pending + credits_posted <= debits_posted",
            name=op.f("ck_ledger_accounts_credits_must_not_exceed_debits"),
        ),
        sa.CheckConstraint(
            "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0",
            name=op.f("ck_ledger_accounts_balances_non_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("timestamp", name=op.f("uq_ledger_accounts_timestamp")),
    )
    op.create_table(
        "ledger_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_timestamp", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_ledger_clock_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_clock")),
    )
    op.create_table(
        "ledger_failed_ids",
        sa.Column("id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("result", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_failed_ids")),
    )
    op.create_table(
        "ledger_account_balances",
        sa.Column("account_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("debits_pending", sa.BigInteger(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_account_balances_account_id_ledger_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", "timestamp", name=op.f("pk_ledger_account_balances")),
    )
    op.create_table(
        "ledger_transfers",
        sa.Column("id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("debit_account_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("credit_account_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("pending_id", sa.LargeBinary(length=16), nullable=True),
        sa.Column("user_data_128", sa.LargeBinary(length=16), nullable=False),
        sa.Column("user_data_64", sa.BigInteger(), nullable=False),
        sa.Column("user_data_32", sa.BigInteger(), nullable=False),
        sa.Column("timeout", sa.BigInteger(), nullable=False),
        sa.Column("ledger", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_ledger_transfers_amount_non_negative")),
        sa.ForeignKeyConstraint(
            ["credit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_transfers_credit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["debit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_transfers_debit_account_id_ledger_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transfers")),
        sa.UniqueConstraint("pending_id", name=op.f("uq_ledger_transfers_pending_id")),
        sa.UniqueConstraint("timestamp", name=op.f("uq_ledger_transfers_timestamp")),
    )
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_transfers_credit_ts", ["credit_account_id", "timestamp"], unique=False
        )
        batch_op.create_index("ix_ledger_transfers_debit_ts", ["debit_account_id", "timestamp"], unique=False)

    op.create_table(
        "ledger_pending_status",
        sa.Column("id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("status BETWEEN 1 AND 4", name=op.f("ck_ledger_pending_status_status_known")),
        sa.ForeignKeyConstraint(
            ["id"], ["ledger_transfers.id"], name=op.f("fk_ledger_pending_status_id_ledger_transfers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_pending_status")),
    )
    with op.batch_alter_table("ledger_pending_status", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_pending_status_expiry", ["status", "expires_at"], unique=False)

    op.execute("INSERT INTO ledger_clock (id, last_timestamp) VALUES (1, 0)")


def downgrade() -> None:
    with op.batch_alter_table("ledger_pending_status", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_pending_status_expiry")

    op.drop_table("ledger_pending_status")
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_transfers_debit_ts")
        batch_op.drop_index("ix_ledger_transfers_credit_ts")

    op.drop_table("ledger_transfers")
    op.drop_table("ledger_account_balances")
    op.drop_table("ledger_failed_ids")
    op.drop_table("ledger_clock")
    op.drop_table("ledger_accounts")
