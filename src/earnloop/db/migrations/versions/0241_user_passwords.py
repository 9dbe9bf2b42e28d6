"""user_passwords, sign_in_attempts: password sign-in of the consumer app and its rate limit

Revision ID: 0241
Revises: 0240
Create Date: 2026-12-07 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0241"
down_revision: str | None = "0240"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "user_passwords",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=255), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_passwords_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_passwords")),
    )
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("handle", sa.String(length=64), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("attempted_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempts")),
    )
    op.create_index(
        "ix_sign_in_attempts_handle", "sign_in_attempts", ["handle", "attempted_at_ns"], unique=False
    )
    op.create_index(
        "ix_sign_in_attempts_ip", "sign_in_attempts", ["client_ip", "attempted_at_ns"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_sign_in_attempts_ip", table_name="sign_in_attempts")
    op.drop_index("ix_sign_in_attempts_handle", table_name="sign_in_attempts")
    op.drop_table("sign_in_attempts")
    op.drop_table("user_passwords")
