"""catalog: games get a lock period (days a game reward stays pending), 0–365, default 0

Revision ID: 0100
Revises: 0090
Create Date: 2026-12-04 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0100"
down_revision: str | None = "0090"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_games", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lock_period_days", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_check_constraint(
            op.f("ck_catalog_games_lock_period_range"),
            "lock_period_days >= 0 AND lock_period_days <= 365",
        )


def downgrade() -> None:
    with op.batch_alter_table("catalog_games", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_catalog_games_lock_period_range"), type_="check")
        batch_op.drop_column("lock_period_days")
