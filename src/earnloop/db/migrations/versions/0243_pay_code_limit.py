"""pay_codes: the amount the user authorised (max_amount; null = no cap) and the code itself, sealed,
for the app to show its owner while it is active (code_sealed; null once used or for API codes)

Revision ID: 0243
Revises: 0240
Create Date: 2026-12-07 23:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0243"
down_revision: str | None = "0240"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pay_codes") as batch:
        batch.add_column(sa.Column("max_amount", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("code_sealed", sa.String(length=400), nullable=True))
        batch.create_check_constraint(
            op.f("ck_pay_codes_max_amount_positive"), "max_amount IS NULL OR max_amount > 0"
        )


def downgrade() -> None:
    with op.batch_alter_table("pay_codes") as batch:
        batch.drop_constraint(op.f("ck_pay_codes_max_amount_positive"), type_="check")
        batch.drop_column("code_sealed")
        batch.drop_column("max_amount")
