"""identity, idempotency and wallet core

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 16:13:38.140651
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_records",
        sa.Column("scope", sa.String(length=120), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_records")),
    )
    op.create_table(
        "partners",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("settlement_currency", sa.String(length=3), nullable=False),
        sa.Column("api_key_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("api_key_sha256", name=op.f("uq_partners_api_key_sha256")),
        sa.UniqueConstraint("name", name=op.f("uq_partners_name")),
    )
    op.create_table(
        "users",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("handle", sa.String(length=64), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("handle", name=op.f("uq_users_handle")),
    )
    op.create_table(
        "cashback_entries",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("funding_kind", sa.BigInteger(), nullable=False),
        sa.Column("funding_owner", sa.BigInteger(), nullable=False),
        sa.Column("pending_transfer_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("release_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("clawed_back", sa.BigInteger(), nullable=False),
        sa.Column("debt_recorded", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'reversed', 'clawed_back')",
            name=op.f("ck_cashback_entries_status_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_cashback_entries_amount_positive")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_cashback_entries_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cashback_entries")),
        sa.UniqueConstraint("pending_transfer_id", name=op.f("uq_cashback_entries_pending_transfer_id")),
        sa.UniqueConstraint("source", "ref", name="uq_cashback_entries_source_ref"),
    )
    with op.batch_alter_table("cashback_entries", schema=None) as batch_op:
        batch_op.create_index("ix_cashback_entries_due", ["status", "release_at_ns"], unique=False)
        batch_op.create_index("ix_cashback_entries_user", ["user_id", "created_at_ns"], unique=False)

    op.create_table(
        "user_tokens",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_tokens_user_id_users")),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_user_tokens")),
    )
    with op.batch_alter_table("user_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_user_tokens_user", ["user_id"], unique=False)

    op.create_table(
        "wallet_adjustments",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("direction", sa.String(length=6), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("transfer_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "direction IN ('credit', 'debit')", name=op.f("ck_wallet_adjustments_direction_known")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_wallet_adjustments_amount_positive")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_wallet_adjustments_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_adjustments")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_wallet_adjustments_transfer_id")),
    )
    op.create_table(
        "wallets",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("opened_at_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_wallets_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "currency", name=op.f("pk_wallets")),
    )


def downgrade() -> None:
    op.drop_table("wallets")
    op.drop_table("wallet_adjustments")
    with op.batch_alter_table("user_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_user_tokens_user")

    op.drop_table("user_tokens")
    with op.batch_alter_table("cashback_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_cashback_entries_user")
        batch_op.drop_index("ix_cashback_entries_due")

    op.drop_table("cashback_entries")
    op.drop_table("users")
    op.drop_table("partners")
    op.drop_table("idempotency_records")
