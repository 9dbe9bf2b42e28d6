"""secrets at rest: webhook signing secrets and payout account numbers are stored sealed (ADR 0019)

A sealed value is ``enc1:`` + a Fernet token, longer than the plaintext: both columns widen to 400
characters. SQLite does not enforce a VARCHAR length, and rebuilding ``payout_destinations`` (which
withdrawals reference) in batch mode would trip its foreign keys, so only PostgreSQL alters the type.
Rows written before this revision stay readable as plaintext until ``earnloop secrets rotate`` seals
them (this migration has no keys: the keys are runtime settings).

Revision ID: 0170
Revises: 0140
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0170"
down_revision: str | None = "0140"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEALED_LEN = 400
_COLUMNS = (("webhook_secrets", "secret", 100), ("payout_destinations", "account_number", 64))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, old_len in _COLUMNS:
        op.alter_column(
            table,
            column,
            type_=sa.String(SEALED_LEN),
            existing_type=sa.String(old_len),
            existing_nullable=False,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, old_len in _COLUMNS:
        op.alter_column(
            table,
            column,
            type_=sa.String(old_len),
            existing_type=sa.String(SEALED_LEN),
            existing_nullable=False,
        )
