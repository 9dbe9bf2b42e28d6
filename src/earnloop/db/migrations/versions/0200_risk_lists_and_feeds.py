"""risk: allow/block lists for entity keys, and the partners whose signed list feeds we import (ADR 0026)

- ``risk_list_entries``: list (allow/block), entity key, normalised value, source (``manual``, ``review``,
  ``feed:<partner>``), reason, who added it, created/expiry/removal times. Entries are never deleted;
  at most one active entry per (list, key, value, source) (a partial unique index).
- ``risk_feed_partners``: a partner's name (the feed's issuer), its Ed25519 public key, and the sequence
  and signature of the last feed imported from it (a replayed older feed is refused).

Revision ID: 0200
Revises: 0175
Create Date: 2026-12-07 19:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0200"
down_revision: str | None = "0175"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_list_entries",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("list", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("added_by", sa.String(length=120), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("removed_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("removed_by", sa.String(length=120), nullable=True),
        sa.CheckConstraint("list IN ('allow', 'block')", name=op.f("ck_risk_list_entries_list_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_list_entries")),
    )
    op.create_index("ix_risk_list_entries_key_value", "risk_list_entries", ["key", "value"])
    op.create_index("ix_risk_list_entries_source", "risk_list_entries", ["source"])
    op.create_index(
        "uq_risk_list_entries_active",
        "risk_list_entries",
        ["list", "key", "value", "source"],
        unique=True,
        sqlite_where=sa.text("removed_at_ns IS NULL"),
        postgresql_where=sa.text("removed_at_ns IS NULL"),
    )
    op.create_table(
        "risk_feed_partners",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=True),
        sa.Column("last_signature", sa.String(length=128), nullable=True),
        sa.Column("last_imported_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_risk_feed_partners")),
    )


def downgrade() -> None:
    op.drop_table("risk_feed_partners")
    op.drop_index("uq_risk_list_entries_active", table_name="risk_list_entries")
    op.drop_index("ix_risk_list_entries_source", table_name="risk_list_entries")
    op.drop_index("ix_risk_list_entries_key_value", table_name="risk_list_entries")
    op.drop_table("risk_list_entries")
