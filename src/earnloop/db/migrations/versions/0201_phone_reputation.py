"""risk: phone-number reputation — reports by users and partners, per-number and per-reporter counts
(ADR 0026)

- ``phone_reports``: one row per (E.164 number, reporter); reporting again updates the category.
- ``phone_numbers``: distinct reporters per number; ``phone_reporters``: per reporter, its reports and
  how many of them another reporter corroborated (the user trust weight reads it).

Revision ID: 0201
Revises: 0200
Create Date: 2026-12-07 19:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0201"
down_revision: str | None = "0200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "phone_reports",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("reporter_kind", sa.String(length=8), nullable=False),
        sa.Column("reporter_id", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "reporter_kind IN ('user', 'partner')", name=op.f("ck_phone_reports_reporter_kind_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_reports")),
    )
    op.create_index(
        "uq_phone_reports_number_reporter",
        "phone_reports",
        ["number", "reporter_kind", "reporter_id"],
        unique=True,
    )
    op.create_index("ix_phone_reports_reporter", "phone_reports", ["reporter_kind", "reporter_id"])
    op.create_table(
        "phone_numbers",
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("reporters", sa.Integer(), nullable=False),
        sa.Column("first_reported_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_phone_numbers")),
    )
    op.create_table(
        "phone_reporters",
        sa.Column("reporter_kind", sa.String(length=8), nullable=False),
        sa.Column("reporter_id", sa.BigInteger(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("corroborated", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("reporter_kind", "reporter_id", name=op.f("pk_phone_reporters")),
    )


def downgrade() -> None:
    op.drop_table("phone_reporters")
    op.drop_table("phone_numbers")
    op.drop_index("ix_phone_reports_reporter", table_name="phone_reports")
    op.drop_index("uq_phone_reports_number_reporter", table_name="phone_reports")
    op.drop_table("phone_reports")
