"""tracking: the earnloop postback scheme's secrets per game publisher (ADR 0016)

The shared ``earnloop`` provider secrets are deleted: any holder could pay any game, and nothing reads
them any more (a publisher's postbacks verify only with that publisher's own secrets).

Revision ID: 0150
Revises: 0140
Create Date: 2026-12-10 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0150"
down_revision: str | None = "0140"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tracking_partner_secrets",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("secret", sa.String(500), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_tracking_partner_secrets_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_partner_secrets")),
        sa.UniqueConstraint("partner_id", "secret", name="uq_tracking_partner_secrets_partner_secret"),
    )
    op.execute("DELETE FROM tracking_provider_secrets WHERE provider = 'earnloop'")


def downgrade() -> None:
    op.drop_table("tracking_partner_secrets")
