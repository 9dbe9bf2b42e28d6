"""risk engine: decisions carry score, reasons, latency, the event (kind, user, amount) and its
point-in-time activation (+ a shadow strategy's decision); reviews hold rewards; clicks keep a device id

``risk_decisions`` gets the columns a backtest and an explain replay (the existing pass-through rows
keep empty values: score 0, no reasons, no activation). ``risk_reviews`` is the review queue: one row per
event decided ``review``, holding its reward (the cashback release skips it while ``open``).
``tracking_clicks.device_id`` is the click's device (the ``X-Device-Id`` header), a velocity key.

Revision ID: 0180
Revises: 0175
Create Date: 2026-12-07 19:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0180"
down_revision: str | None = "0175"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("risk_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(32), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("user_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("amount", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("currency", sa.String(3), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("score", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("reasons", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("latency_us", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("activation", sa.Text(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("shadow_decision", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("shadow_version", sa.String(40), nullable=True))
        batch_op.add_column(sa.Column("shadow_score", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("shadow_reasons", sa.Text(), nullable=True))
        batch_op.create_index("ix_risk_decisions_user", ["user_id", "created_at_ns"])
    op.create_table(
        "risk_reviews",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("event_ref", sa.String(200), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("reward_ref", sa.String(200), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewer", sa.String(120), nullable=True),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("decided_at_ns", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'approved', 'rejected')", name=op.f("ck_risk_reviews_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_reviews")),
        sa.UniqueConstraint("event_ref", name=op.f("uq_risk_reviews_event_ref")),
    )
    op.create_index("ix_risk_reviews_held", "risk_reviews", ["status", "source", "reward_ref"])
    with op.batch_alter_table("tracking_clicks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("device_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tracking_clicks", schema=None) as batch_op:
        batch_op.drop_column("device_id")
    op.drop_index("ix_risk_reviews_held", table_name="risk_reviews")
    op.drop_table("risk_reviews")
    with op.batch_alter_table("risk_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_decisions_user")
        for column in (
            "shadow_reasons",
            "shadow_score",
            "shadow_version",
            "shadow_decision",
            "activation",
            "latency_us",
            "reasons",
            "score",
            "currency",
            "amount",
            "user_id",
            "kind",
        ):
            batch_op.drop_column(column)
