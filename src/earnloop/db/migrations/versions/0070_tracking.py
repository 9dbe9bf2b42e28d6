"""tracking: provider secrets, clicks, game links, postbacks as received, conversions, risk decisions

Revision ID: 0070
Revises: 0050
Create Date: 2026-11-25 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0070"
down_revision: str | None = "0050"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# No foreign keys to catalog tables: 0060 is a sibling branch of 0050, applied in no guaranteed order.

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tracking_provider_secrets",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("secret", sa.String(500), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_provider_secrets")),
        sa.UniqueConstraint("provider", "secret", name="uq_tracking_provider_secrets_provider_secret"),
    )
    op.create_table(
        "tracking_clicks",
        sa.Column("click_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("game_id", sa.BigInteger(), nullable=False),
        sa.Column("user_agent", sa.String(500), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False),
        sa.Column("destination", sa.String(2000), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_tracking_clicks_user_id_users")),
        sa.PrimaryKeyConstraint("click_id", name=op.f("pk_tracking_clicks")),
    )
    op.create_index("ix_tracking_clicks_user", "tracking_clicks", ["user_id", "created_at_ns"])
    op.create_table(
        "tracking_game_links",
        sa.Column("game_id", sa.BigInteger(), nullable=False),
        sa.Column("template", sa.String(1000), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("game_id", name=op.f("pk_tracking_game_links")),
    )
    op.create_table(
        "tracking_postbacks",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("query_string", sa.Text(), nullable=False),
        sa.Column("headers_json", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(40), nullable=True),
        sa.Column("transaction_id", sa.String(200), nullable=True),
        sa.Column("click_id", sa.String(200), nullable=True),
        sa.Column("event_key", sa.String(200), nullable=True),
        sa.Column("reported_amount", sa.String(60), nullable=True),
        sa.Column("reply_status", sa.Integer(), nullable=False),
        sa.Column("received_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('accepted', 'duplicate', 'rejected')",
            name=op.f("ck_tracking_postbacks_outcome_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_postbacks")),
    )
    op.create_index("ix_tracking_postbacks_txn", "tracking_postbacks", ["provider", "transaction_id"])
    op.create_index("ix_tracking_postbacks_outcome", "tracking_postbacks", ["outcome", "received_at_ns"])
    op.create_table(
        "tracking_conversions",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("transaction_id", sa.String(200), nullable=False),
        sa.Column("click_id", sa.String(64), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("milestone_id", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reply_status", sa.Integer(), nullable=False),
        sa.Column("reply_content_type", sa.String(100), nullable=False),
        sa.Column("reply_body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_tracking_conversions_amount_nonnegative")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tracking_conversions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_conversions")),
        sa.UniqueConstraint("provider", "transaction_id", name="uq_tracking_conversions_provider_txn"),
    )
    op.create_table(
        "risk_decisions",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("event_ref", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("strategy_version", sa.String(40), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "decision IN ('allow', 'review', 'deny')", name=op.f("ck_risk_decisions_decision_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_decisions")),
        sa.UniqueConstraint("event_ref", name=op.f("uq_risk_decisions_event_ref")),
    )


def downgrade() -> None:
    for table in (
        "risk_decisions",
        "tracking_conversions",
        "tracking_postbacks",
        "tracking_game_links",
        "tracking_clicks",
        "tracking_provider_secrets",
    ):
        op.drop_table(table)
