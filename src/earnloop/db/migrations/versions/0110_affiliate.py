"""affiliate: merchant postback secrets, merchant clicks, conversions with reward parts, update claims,
requests as received

Revision ID: 0110
Revises: 0090
Create Date: 2026-12-04 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0110"
down_revision: str | None = "0090"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, target: str, target_column: str = "id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.{target_column}"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "affiliate_merchant_secrets",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("secret", sa.String(500), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        _fk("affiliate_merchant_secrets", "merchant_id", "catalog_merchants"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_affiliate_merchant_secrets")),
        sa.UniqueConstraint("merchant_id", "secret", name="uq_affiliate_merchant_secrets_merchant_secret"),
    )
    op.create_table(
        "affiliate_clicks",
        sa.Column("click_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("device", sa.String(16), nullable=False),
        sa.Column("user_agent", sa.String(500), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False),
        sa.Column("destination", sa.String(2000), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        _fk("affiliate_clicks", "user_id", "users"),
        _fk("affiliate_clicks", "merchant_id", "catalog_merchants"),
        sa.PrimaryKeyConstraint("click_id", name=op.f("pk_affiliate_clicks")),
    )
    op.create_index("ix_affiliate_clicks_user", "affiliate_clicks", ["user_id", "created_at_ns"])
    op.create_table(
        "affiliate_conversions",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("click_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_amount", sa.BigInteger(), nullable=False),
        sa.Column("order_amount", sa.BigInteger(), nullable=False),
        sa.Column("reward_ref", sa.String(200), nullable=False),
        sa.Column("event_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("release_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("risk_decision", sa.String(16), nullable=False),
        sa.Column("risk_strategy_version", sa.String(40), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'declined', 'reversed')",
            name=op.f("ck_affiliate_conversions_status_known"),
        ),
        sa.CheckConstraint(
            "order_amount >= 0 AND order_amount <= first_amount",
            name=op.f("ck_affiliate_conversions_amount_shrinks"),
        ),
        _fk("affiliate_conversions", "merchant_id", "catalog_merchants"),
        _fk("affiliate_conversions", "click_id", "affiliate_clicks", "click_id"),
        _fk("affiliate_conversions", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_affiliate_conversions")),
        sa.UniqueConstraint("merchant_id", "order_id", name="uq_affiliate_conversions_merchant_order"),
        sa.UniqueConstraint("reward_ref", name=op.f("uq_affiliate_conversions_reward_ref")),
    )
    op.create_index("ix_affiliate_conversions_user", "affiliate_conversions", ["user_id", "created_at_ns"])
    op.create_table(
        "affiliate_reward_parts",
        sa.Column("conversion_id", sa.BigInteger(), nullable=False),
        sa.Column("part", sa.String(32), nullable=False),
        sa.Column("ref", sa.String(200), nullable=False),
        sa.Column("first_amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("first_amount > 0", name=op.f("ck_affiliate_reward_parts_amount_positive")),
        _fk("affiliate_reward_parts", "conversion_id", "affiliate_conversions"),
        sa.PrimaryKeyConstraint("conversion_id", "part", name="pk_affiliate_reward_parts"),
        sa.UniqueConstraint("ref", name=op.f("uq_affiliate_reward_parts_ref")),
    )
    op.create_table(
        "affiliate_updates",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("order_amount", sa.BigInteger(), nullable=False),
        sa.Column("reply_status", sa.Integer(), nullable=False),
        sa.Column("reply_content_type", sa.String(100), nullable=False),
        sa.Column("reply_body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_affiliate_updates")),
        sa.UniqueConstraint(
            "merchant_id", "order_id", "status", "order_amount", name="uq_affiliate_updates_identity"
        ),
    )
    op.create_table(
        "affiliate_requests",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=True),
        sa.Column("headers_json", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(40), nullable=True),
        sa.Column("order_id", sa.String(200), nullable=True),
        sa.Column("click_id", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("order_amount", sa.BigInteger(), nullable=True),
        sa.Column("reply_status", sa.Integer(), nullable=False),
        sa.Column("received_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "channel IN ('postback', 'report')", name=op.f("ck_affiliate_requests_channel_known")
        ),
        sa.CheckConstraint(
            "outcome IN ('accepted', 'duplicate', 'rejected')",
            name=op.f("ck_affiliate_requests_outcome_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_affiliate_requests")),
    )
    op.create_index("ix_affiliate_requests_order", "affiliate_requests", ["merchant_id", "order_id"])
    op.create_index("ix_affiliate_requests_outcome", "affiliate_requests", ["outcome", "received_at_ns"])


def downgrade() -> None:
    for table in (
        "affiliate_requests",
        "affiliate_updates",
        "affiliate_reward_parts",
        "affiliate_conversions",
        "affiliate_clicks",
        "affiliate_merchant_secrets",
    ):
        op.drop_table(table)
