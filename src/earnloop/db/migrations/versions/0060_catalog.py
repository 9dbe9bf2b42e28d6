"""catalog: merchants (tax ids, rates), games with milestones, campaigns with targets, usage counters

Revision ID: 0060
Revises: 0050
Create Date: 2026-11-25 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0060"
down_revision: str | None = "0050"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "catalog_merchants",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("logo_url", sa.String(500), nullable=False),
        sa.Column("tracking_template", sa.String(1000), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("lock_period_days", sa.Integer(), nullable=False),
        sa.Column("payout_terms", sa.String(200), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "lock_period_days >= 0 AND lock_period_days <= 365",
            name=op.f("ck_catalog_merchants_lock_period_range"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_catalog_merchants_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_merchants")),
        sa.UniqueConstraint("key", name=op.f("uq_catalog_merchants_key")),
        sa.UniqueConstraint("partner_id", name=op.f("uq_catalog_merchants_partner_id")),
    )
    op.create_table(
        "catalog_merchant_tax_ids",
        sa.Column("tax_id", sa.String(8), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["catalog_merchants.id"],
            name=op.f("fk_catalog_merchant_tax_ids_merchant_id_catalog_merchants"),
        ),
        sa.PrimaryKeyConstraint("tax_id", name=op.f("pk_catalog_merchant_tax_ids")),
    )
    op.create_index("ix_catalog_merchant_tax_ids_merchant", "catalog_merchant_tax_ids", ["merchant_id"])
    op.create_table(
        "catalog_merchant_rates",
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("rate_bps", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "rate_bps >= 0 AND rate_bps <= 10000", name=op.f("ck_catalog_merchant_rates_rate_range")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["catalog_merchants.id"],
            name=op.f("fk_catalog_merchant_rates_merchant_id_catalog_merchants"),
        ),
        sa.PrimaryKeyConstraint("merchant_id", "category", name=op.f("pk_catalog_merchant_rates")),
    )
    op.create_table(
        "catalog_games",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("platforms", sa.String(100), nullable=False),
        sa.Column("app_store_id", sa.String(20), nullable=True),
        sa.Column("play_package", sa.String(150), nullable=True),
        sa.Column("tracking_provider", sa.String(40), nullable=False),
        sa.Column("tags", sa.String(500), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("publisher_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["publisher_id"], ["partners.id"], name=op.f("fk_catalog_games_publisher_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_games")),
        sa.UniqueConstraint("key", name=op.f("uq_catalog_games_key")),
    )
    op.create_index("ix_catalog_games_status", "catalog_games", ["status"])
    op.create_table(
        "catalog_milestones",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("game_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("goal", sa.String(200), nullable=False),
        sa.Column("within_days", sa.Integer(), nullable=True),
        sa.Column("reward_amount", sa.BigInteger(), nullable=False),
        sa.Column("per_user_limit", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("reward_amount > 0", name=op.f("ck_catalog_milestones_reward_positive")),
        sa.CheckConstraint("per_user_limit >= 1", name=op.f("ck_catalog_milestones_limit_positive")),
        sa.CheckConstraint(
            "within_days IS NULL OR within_days >= 1", name=op.f("ck_catalog_milestones_within_days_positive")
        ),
        sa.ForeignKeyConstraint(
            ["game_id"], ["catalog_games.id"], name=op.f("fk_catalog_milestones_game_id_catalog_games")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_milestones")),
        sa.UniqueConstraint("game_id", "key", name="uq_catalog_milestones_game_key"),
    )
    op.create_table(
        "catalog_campaigns",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("multiplier_bps", sa.Integer(), nullable=False),
        sa.Column("fixed_bonus", sa.BigInteger(), nullable=False),
        sa.Column("starts_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("ends_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("per_user_cap", sa.Integer(), nullable=True),
        sa.Column("budget_total", sa.BigInteger(), nullable=False),
        sa.Column("funded", sa.BigInteger(), nullable=False),
        sa.Column("budget_mode", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "multiplier_bps >= 10000 AND multiplier_bps <= 100000",
            name=op.f("ck_catalog_campaigns_multiplier_range"),
        ),
        sa.CheckConstraint("fixed_bonus >= 0", name=op.f("ck_catalog_campaigns_bonus_nonnegative")),
        sa.CheckConstraint("ends_at_ns > starts_at_ns", name=op.f("ck_catalog_campaigns_schedule_order")),
        sa.CheckConstraint(
            "per_user_cap IS NULL OR per_user_cap >= 1", name=op.f("ck_catalog_campaigns_cap_positive")
        ),
        sa.CheckConstraint("budget_total > 0", name=op.f("ck_catalog_campaigns_budget_positive")),
        sa.CheckConstraint(
            "funded >= 0 AND funded <= budget_total", name=op.f("ck_catalog_campaigns_funded_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_campaigns")),
        sa.UniqueConstraint("key", name=op.f("uq_catalog_campaigns_key")),
    )
    op.create_table(
        "catalog_campaign_targets",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("target_kind", sa.String(8), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["catalog_campaigns.id"],
            name=op.f("fk_catalog_campaign_targets_campaign_id_catalog_campaigns"),
        ),
        sa.PrimaryKeyConstraint(
            "campaign_id", "target_kind", "target_id", name=op.f("pk_catalog_campaign_targets")
        ),
    )
    op.create_index(
        "ix_catalog_campaign_targets_target", "catalog_campaign_targets", ["target_kind", "target_id"]
    )
    op.create_table(
        "catalog_usage",
        sa.Column("subject", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.CheckConstraint("used >= 0", name=op.f("ck_catalog_usage_used_nonnegative")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_catalog_usage_user_id_users")),
        sa.PrimaryKeyConstraint("subject", "subject_id", "user_id", name=op.f("pk_catalog_usage")),
    )
    op.create_table(
        "catalog_usage_refs",
        sa.Column("subject", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("ref", sa.String(200), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_catalog_usage_refs_user_id_users")),
        sa.PrimaryKeyConstraint("subject", "subject_id", "ref", name=op.f("pk_catalog_usage_refs")),
    )


def downgrade() -> None:
    for table in (
        "catalog_usage_refs",
        "catalog_usage",
        "catalog_campaign_targets",
        "catalog_campaigns",
        "catalog_milestones",
        "catalog_games",
        "catalog_merchant_rates",
        "catalog_merchant_tax_ids",
        "catalog_merchants",
    ):
        op.drop_table(table)
