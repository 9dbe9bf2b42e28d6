"""credit_lines, credit_line_movements, credit_statements: the revolving credit line (ADR 0034)

Revision ID: 0250
Revises: 0243
Create Date: 2026-12-08 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0250"
down_revision: str | None = "0243"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_lines",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("credit_limit", sa.BigInteger(), nullable=False),
        sa.Column("line_debt", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("cycle_start_ns", sa.BigInteger(), nullable=False),
        sa.Column("opened_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("credit_limit >= 0", name=op.f("ck_credit_lines_limit_not_negative")),
        sa.CheckConstraint("line_debt >= 0", name=op.f("ck_credit_lines_line_debt_not_negative")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_credit_lines_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "currency", name=op.f("pk_credit_lines")),
    )
    op.create_table(
        "credit_line_movements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("transfer_id", sa.LargeBinary(length=16), nullable=True),
        sa.Column("statement_id", sa.Integer(), nullable=True),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "amount >= 0 AND fee >= 0", name=op.f("ck_credit_line_movements_amounts_not_negative")
        ),
        sa.CheckConstraint(
            "kind IN ('draw', 'repay', 'overdue', 'limit')", name=op.f("ck_credit_line_movements_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_credit_line_movements_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_line_movements")),
    )
    op.create_index(
        "ix_credit_line_movements_line",
        "credit_line_movements",
        ["user_id", "currency", "created_at_ns"],
        unique=False,
    )
    op.create_table(
        "credit_statements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("period_start_ns", sa.BigInteger(), nullable=False),
        sa.Column("period_end_ns", sa.BigInteger(), nullable=False),
        sa.Column("balance_due", sa.BigInteger(), nullable=False),
        sa.Column("minimum_due", sa.BigInteger(), nullable=False),
        sa.Column("due_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("repaid", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("paid_on_time", sa.Boolean(), nullable=True),
        sa.Column("paid_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("closed_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "balance_due >= 0 AND minimum_due >= 0 AND repaid >= 0",
            name=op.f("ck_credit_statements_amounts_not_negative"),
        ),
        sa.CheckConstraint(
            "state IN ('open', 'paid', 'carried', 'overdue')", name=op.f("ck_credit_statements_state_known")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_credit_statements_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_statements")),
        sa.UniqueConstraint("user_id", "currency", "period_start_ns", name="uq_credit_statements_period"),
    )
    op.create_index(
        "ix_credit_statements_state_due", "credit_statements", ["state", "due_at_ns"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_credit_statements_state_due", table_name="credit_statements")
    op.drop_table("credit_statements")
    op.drop_index("ix_credit_line_movements_line", table_name="credit_line_movements")
    op.drop_table("credit_line_movements")
    op.drop_table("credit_lines")
