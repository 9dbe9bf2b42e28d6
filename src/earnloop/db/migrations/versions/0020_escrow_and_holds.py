"""escrow trades, deposit policies, per-user overrides and deposit holds

Revision ID: 0020
Revises: 0003
Create Date: 2026-11-25 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ESCROW_STATES = "'WAIT_BUYER_PAY', 'WAIT_SELLER_SEND', 'WAIT_BUYER_CONFIRM', 'TRADE_FINISHED', 'TRADE_CLOSED'"
HOLD_STATES = "'held', 'captured', 'released', 'expired'"


def upgrade() -> None:
    op.create_table(
        "escrow_trades",
        sa.Column("trade_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("trade_ref", sa.String(length=200), nullable=False),
        sa.Column("buyer_user_id", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("hold_transfer_id", sa.LargeBinary(length=16), nullable=True),
        sa.Column("pay_deadline_ns", sa.BigInteger(), nullable=False),
        sa.Column("confirm_timeout_s", sa.BigInteger(), nullable=False),
        sa.Column("confirm_deadline_ns", sa.BigInteger(), nullable=True),
        sa.Column("close_reason", sa.String(length=32), nullable=True),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_escrow_trades_amount_positive")),
        sa.CheckConstraint("confirm_timeout_s > 0", name=op.f("ck_escrow_trades_confirm_timeout_positive")),
        sa.CheckConstraint(f"state IN ({ESCROW_STATES})", name=op.f("ck_escrow_trades_state_known")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_escrow_trades_partner_id_partners")
        ),
        sa.ForeignKeyConstraint(
            ["buyer_user_id"], ["users.id"], name=op.f("fk_escrow_trades_buyer_user_id_users")
        ),
        sa.PrimaryKeyConstraint("trade_id", name=op.f("pk_escrow_trades")),
        sa.UniqueConstraint("hold_transfer_id", name=op.f("uq_escrow_trades_hold_transfer_id")),
        sa.UniqueConstraint("partner_id", "trade_ref", name="uq_escrow_trades_partner_ref"),
    )
    op.create_index("ix_escrow_trades_state_pay", "escrow_trades", ["state", "pay_deadline_ns"])
    op.create_index("ix_escrow_trades_state_confirm", "escrow_trades", ["state", "confirm_deadline_ns"])
    op.create_index("ix_escrow_trades_buyer", "escrow_trades", ["buyer_user_id", "created_at_ns"])

    op.create_table(
        "deposit_policies",
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("min_credit_score", sa.BigInteger(), nullable=True),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_deposit_policies_amount_positive")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_deposit_policies_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("product", "currency", name=op.f("pk_deposit_policies")),
    )
    op.create_table(
        "deposit_policy_overrides",
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_deposit_policy_overrides_amount_positive")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_deposit_policy_overrides_user_id_users")
        ),
        sa.PrimaryKeyConstraint("product", "currency", "user_id", name=op.f("pk_deposit_policy_overrides")),
    )
    op.create_table(
        "deposit_holds",
        sa.Column("hold_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("amount_basis", sa.String(length=16), nullable=False),
        sa.Column("captured", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pending_transfer_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("expires_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_deposit_holds_amount_positive")),
        sa.CheckConstraint(
            "captured >= 0 AND captured <= amount", name=op.f("ck_deposit_holds_captured_within_amount")
        ),
        sa.CheckConstraint(f"state IN ({HOLD_STATES})", name=op.f("ck_deposit_holds_state_known")),
        sa.CheckConstraint(
            "amount_basis IN ('policy', 'override')", name=op.f("ck_deposit_holds_amount_basis_known")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_deposit_holds_partner_id_partners")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_deposit_holds_user_id_users")),
        sa.PrimaryKeyConstraint("hold_id", name=op.f("pk_deposit_holds")),
        sa.UniqueConstraint("pending_transfer_id", name=op.f("uq_deposit_holds_pending_transfer_id")),
        sa.UniqueConstraint("partner_id", "ref", name="uq_deposit_holds_partner_ref"),
    )
    op.create_index("ix_deposit_holds_state_expiry", "deposit_holds", ["state", "expires_at_ns"])
    op.create_index("ix_deposit_holds_user", "deposit_holds", ["user_id", "created_at_ns"])


def downgrade() -> None:
    op.drop_index("ix_deposit_holds_user", table_name="deposit_holds")
    op.drop_index("ix_deposit_holds_state_expiry", table_name="deposit_holds")
    op.drop_table("deposit_holds")
    op.drop_table("deposit_policy_overrides")
    op.drop_table("deposit_policies")
    op.drop_index("ix_escrow_trades_buyer", table_name="escrow_trades")
    op.drop_index("ix_escrow_trades_state_confirm", table_name="escrow_trades")
    op.drop_index("ix_escrow_trades_state_pay", table_name="escrow_trades")
    op.drop_table("escrow_trades")
