"""einvoice: an index for the worker's due-carrier query (active carriers by last sync attempt)

Revision ID: 0130
Revises: 0120
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0130"
down_revision: str | None = "0120"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_einvoice_carriers_due", "einvoice_carriers", ["status", "last_sync_at_ns"])


def downgrade() -> None:
    op.drop_index("ix_einvoice_carriers_due", table_name="einvoice_carriers")
