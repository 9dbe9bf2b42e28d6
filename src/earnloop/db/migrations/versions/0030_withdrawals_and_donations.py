"""withdrawals and donations

Revision ID: 0030
Revises: 0003
Create Date: 2026-11-26 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payout_destinations",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("holder_name", sa.String(length=120), nullable=False),
        sa.Column("account_number", sa.String(length=64), nullable=False),
        sa.Column("account_masked", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("kind IN ('bank', 'ewallet')", name=op.f("ck_payout_destinations_kind_known")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_payout_destinations_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_destinations")),
    )
    op.create_index("ix_payout_destinations_user", "payout_destinations", ["user_id"])
    op.create_table(
        "withdrawals",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("destination_id", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("hold_transfer_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("provider_ref", sa.String(length=80), nullable=True),
        sa.Column("failure_reason", sa.String(length=200), nullable=True),
        sa.Column("inquiries", sa.BigInteger(), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_withdrawals_amount_positive")),
        sa.CheckConstraint(
            "state IN ('requested', 'processing', 'unknown', 'paid', 'failed')",
            name=op.f("ck_withdrawals_state_known"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_withdrawals_user_id_users")),
        sa.ForeignKeyConstraint(
            ["destination_id"],
            ["payout_destinations.id"],
            name=op.f("fk_withdrawals_destination_id_payout_destinations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_withdrawals")),
        sa.UniqueConstraint("request_id", name=op.f("uq_withdrawals_request_id")),
        sa.UniqueConstraint("hold_transfer_id", name=op.f("uq_withdrawals_hold_transfer_id")),
    )
    op.create_index("ix_withdrawals_user_day", "withdrawals", ["user_id", "currency", "created_at_ns"])
    op.create_index("ix_withdrawals_open", "withdrawals", ["state", "updated_at_ns"])
    op.create_table(
        "charity_campaigns",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("charity_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("goal", sa.BigInteger(), nullable=False),
        sa.Column("starts_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("ends_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("raised", sa.BigInteger(), nullable=False),
        sa.Column("donations_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("goal > 0", name=op.f("ck_charity_campaigns_goal_positive")),
        sa.CheckConstraint("ends_at_ns > starts_at_ns", name=op.f("ck_charity_campaigns_window_valid")),
        sa.CheckConstraint(
            "raised >= 0 AND donations_count >= 0", name=op.f("ck_charity_campaigns_counters_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["charity_id"], ["partners.id"], name=op.f("fk_charity_campaigns_charity_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charity_campaigns")),
    )
    op.create_index("ix_charity_campaigns_charity", "charity_campaigns", ["charity_id"])
    op.create_table(
        "donations",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("charity_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("transfer_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_donations_amount_positive")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_donations_user_id_users")),
        sa.ForeignKeyConstraint(
            ["charity_id"], ["partners.id"], name=op.f("fk_donations_charity_id_partners")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["charity_campaigns.id"], name=op.f("fk_donations_campaign_id_charity_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_donations")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_donations_transfer_id")),
    )
    op.create_index("ix_donations_charity", "donations", ["charity_id", "currency", "id"])
    op.create_index("ix_donations_user", "donations", ["user_id", "created_at_ns"])


def downgrade() -> None:
    op.drop_table("donations")
    op.drop_table("charity_campaigns")
    op.drop_table("withdrawals")
    op.drop_table("payout_destinations")
