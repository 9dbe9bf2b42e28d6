"""sim: the fraud simulation lab's ground-truth labels, one row per simulated event (ADR 0027)

Revision ID: 0210
Revises: 0175
Create Date: 2026-12-07 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0210"
down_revision: str | None = "0175"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sim_labels",
        sa.Column("run", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("label", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("event_ref", sa.String(200), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("money_event", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('accepted', 'refused', 'duplicate')", name=op.f("ck_sim_labels_outcome_known")
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_sim_labels_amount_not_negative")),
        sa.PrimaryKeyConstraint("run", "seq", name=op.f("pk_sim_labels")),
    )
    op.create_index("ix_sim_labels_event_ref", "sim_labels", ["event_ref"])


def downgrade() -> None:
    op.drop_index("ix_sim_labels_event_ref", table_name="sim_labels")
    op.drop_table("sim_labels")
