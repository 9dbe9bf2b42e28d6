"""Merge the game lock period (0100) and shopping conversions (0110) branches.

Revision ID: 0120
Revises: 0100, 0110
Create Date: 2026-12-04
"""

from collections.abc import Sequence

revision: str = "0120"
down_revision: str | Sequence[str] | None = ("0100", "0110")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
