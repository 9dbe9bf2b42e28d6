"""risk outcomes: what the platform later learned about a screened event (reversal, claw-back, confirmed
fraud), the labels backtests score strategies against; back-filled from cashback entries already
reversed or clawed back (their screened event ref is ``source:ref``).

Revision ID: 0220
Revises: 0175
Create Date: 2026-12-07 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0220"
down_revision: str | None = "0175"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_outcomes",
        sa.Column("event_ref", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("created_at_ns", sa.BigInteger, nullable=False),
        sa.CheckConstraint(
            "kind IN ('reversed', 'clawed_back', 'confirmed_fraud')",
            name=op.f("ck_risk_outcomes_outcome_kind_known"),
        ),
        sa.PrimaryKeyConstraint("event_ref", "kind", name=op.f("pk_risk_outcomes")),
    )
    op.execute(
        "INSERT INTO risk_outcomes (event_ref, kind, amount, created_at_ns)"
        " SELECT source || ':' || ref, status, amount, updated_at_ns FROM cashback_entries"
        " WHERE status IN ('reversed', 'clawed_back')"
    )


def downgrade() -> None:
    op.drop_table("risk_outcomes")
