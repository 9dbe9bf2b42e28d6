"""user_passkeys and passkey_challenges: passkeys (WebAuthn) and their ceremonies' single-use challenges

Revision ID: 0242
Revises: 0240
Create Date: 2026-12-07 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0242"
down_revision: str | None = "0240"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_passkeys",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("credential_id", sa.String(length=1400), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at_ns", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_passkeys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_user_passkeys_credential_id")),
    )
    op.create_index("ix_user_passkeys_user", "user_passkeys", ["user_id"], unique=False)
    op.create_table(
        "passkey_challenges",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("challenge", sa.LargeBinary(), nullable=False),
        sa.Column("action_json", sa.Text(), nullable=True),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("used_at_ns", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_passkey_challenges_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkey_challenges")),
    )
    op.create_index("ix_passkey_challenges_user", "passkey_challenges", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_passkey_challenges_user", table_name="passkey_challenges")
    op.drop_table("passkey_challenges")
    op.drop_index("ix_user_passkeys_user", table_name="user_passkeys")
    op.drop_table("user_passkeys")
