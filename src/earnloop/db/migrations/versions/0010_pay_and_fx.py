"""pay (merchant orders, refunds, pay codes) and fx (rates, conversions)

Revision ID: 0010
Revises: 0003
Create Date: 2026-11-26 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("base", sa.String(length=3), nullable=False),
        sa.Column("quote", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=False),
        sa.Column("spread_bps", sa.Integer(), nullable=False),
        sa.Column("valid_from_ns", sa.BigInteger(), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.CheckConstraint("base <> quote", name=op.f("ck_fx_rates_distinct_pair")),
        sa.CheckConstraint("spread_bps >= 0 AND spread_bps <= 5000", name=op.f("ck_fx_rates_spread_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_rates")),
        sa.UniqueConstraint("base", "quote", "valid_from_ns", name="uq_fx_rates_pair_valid_from"),
    )
    op.create_index("ix_fx_rates_pair", "fx_rates", ["base", "quote", "valid_from_ns"], unique=False)

    op.create_table(
        "fx_conversions",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("from_currency", sa.String(length=3), nullable=False),
        sa.Column("to_currency", sa.String(length=3), nullable=False),
        sa.Column("amount_from", sa.BigInteger(), nullable=False),
        sa.Column("amount_to", sa.BigInteger(), nullable=False),
        sa.Column("rate_id", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_from > 0", name=op.f("ck_fx_conversions_amount_from_positive")),
        sa.CheckConstraint("amount_to > 0", name=op.f("ck_fx_conversions_amount_to_positive")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_fx_conversions_user_id_users")),
        sa.ForeignKeyConstraint(
            ["rate_id"], ["fx_rates.id"], name=op.f("fk_fx_conversions_rate_id_fx_rates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_conversions")),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_fx_conversions_user_key"),
    )
    op.create_index("ix_fx_conversions_user", "fx_conversions", ["user_id", "created_at_ns"], unique=False)

    op.create_table(
        "merchant_pay_settings",
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("fee_bps", sa.Integer(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "fee_bps >= 0 AND fee_bps <= 5000", name=op.f("ck_merchant_pay_settings_fee_range")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_merchant_pay_settings_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_merchant_pay_settings")),
    )

    op.create_table(
        "pay_orders",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_order_id", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("fee_bps", sa.Integer(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("pay_currency", sa.String(length=3), nullable=True),
        sa.Column("pay_amount", sa.BigInteger(), nullable=True),
        sa.Column("fx_rate_id", sa.BigInteger(), nullable=True),
        sa.Column("refunded", sa.BigInteger(), nullable=False),
        sa.Column("fee_refunded", sa.BigInteger(), nullable=False),
        sa.Column("pay_refunded", sa.BigInteger(), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("paid_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_pay_orders_amount_positive")),
        sa.CheckConstraint("fee >= 0 AND fee <= amount", name=op.f("ck_pay_orders_fee_range")),
        sa.CheckConstraint("refunded >= 0 AND refunded <= amount", name=op.f("ck_pay_orders_refunded_range")),
        sa.CheckConstraint(
            "fee_refunded >= 0 AND fee_refunded <= fee", name=op.f("ck_pay_orders_fee_refunded_range")
        ),
        sa.CheckConstraint(
            "pay_refunded >= 0 AND pay_refunded <= COALESCE(pay_amount, 0)",
            name=op.f("ck_pay_orders_pay_refunded_range"),
        ),
        sa.CheckConstraint(
            "state IN ('awaiting_user', 'paid', 'partially_refunded', 'refunded', 'expired')",
            name=op.f("ck_pay_orders_state_known"),
        ),
        sa.CheckConstraint("source IN ('order', 'code')", name=op.f("ck_pay_orders_source_known")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["partners.id"], name=op.f("fk_pay_orders_merchant_id_partners")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_pay_orders_user_id_users")),
        sa.ForeignKeyConstraint(
            ["fx_rate_id"], ["fx_rates.id"], name=op.f("fk_pay_orders_fx_rate_id_fx_rates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_orders")),
        sa.UniqueConstraint("merchant_id", "merchant_order_id", name="uq_pay_orders_merchant_order"),
    )
    op.create_index("ix_pay_orders_due", "pay_orders", ["state", "expires_at_ns"], unique=False)
    op.create_index("ix_pay_orders_user", "pay_orders", ["user_id", "created_at_ns"], unique=False)

    op.create_table(
        "pay_refunds",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_part", sa.BigInteger(), nullable=False),
        sa.Column("pay_part", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_pay_refunds_amount_positive")),
        sa.CheckConstraint(
            "fee_part >= 0 AND fee_part <= amount", name=op.f("ck_pay_refunds_fee_part_range")
        ),
        sa.CheckConstraint("pay_part >= 0", name=op.f("ck_pay_refunds_pay_part_range")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["pay_orders.id"], name=op.f("fk_pay_refunds_order_id_pay_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_refunds")),
    )
    op.create_index("ix_pay_refunds_order", "pay_refunds", ["order_id"], unique=False)

    op.create_table(
        "pay_codes",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("used_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("state IN ('active', 'used')", name=op.f("ck_pay_codes_state_known")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_pay_codes_user_id_users")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["pay_orders.id"], name=op.f("fk_pay_codes_order_id_pay_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_codes")),
        sa.UniqueConstraint("code_sha256", name=op.f("uq_pay_codes_code_sha256")),
    )
    op.create_index("ix_pay_codes_user", "pay_codes", ["user_id", "created_at_ns"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_pay_codes_user", table_name="pay_codes")
    op.drop_table("pay_codes")
    op.drop_index("ix_pay_refunds_order", table_name="pay_refunds")
    op.drop_table("pay_refunds")
    op.drop_index("ix_pay_orders_user", table_name="pay_orders")
    op.drop_index("ix_pay_orders_due", table_name="pay_orders")
    op.drop_table("pay_orders")
    op.drop_table("merchant_pay_settings")
    op.drop_index("ix_fx_conversions_user", table_name="fx_conversions")
    op.drop_table("fx_conversions")
    op.drop_index("ix_fx_rates_pair", table_name="fx_rates")
    op.drop_table("fx_rates")
