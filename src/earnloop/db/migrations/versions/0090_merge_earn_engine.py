"""Merge the earn-engine branches (catalog, tracking, e-invoice).

Revision ID: 0090
Revises: 0060, 0070, 0080
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "0090"
down_revision: str | Sequence[str] | None = ("0060", "0070", "0080")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
