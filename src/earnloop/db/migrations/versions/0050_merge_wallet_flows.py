"""Merge the wallet flow branches (pay & FX, escrow & holds, withdrawals & donations, webhooks).

Revision ID: 0050
Revises: 0010, 0020, 0030, 0040
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "0050"
down_revision: str | Sequence[str] | None = ("0010", "0020", "0030", "0040")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
