"""wallet: deposit holds need the user's consent (approval or a mandate); orders get unguessable tokens

- ``deposit_mandates``: a user's standing permission for one merchant to hold deposits up to a limit,
  until an expiry, revocable.
- ``deposit_holds``: new states ``requested`` and ``declined``; the money columns (``pending_transfer_id``,
  ``expires_at_ns``) are empty until the hold takes effect; ``expires_in_s`` (the hold's duration, from
  when it takes effect), ``approve_by_ns``, ``approved_via`` and ``mandate_id``. Existing holds keep their
  state; their duration is computed from their timestamps.
- ``pay_orders``: ``token`` (a random id users see instead of the serial id; existing orders get one) and
  ``payer_user_id`` (the one user allowed to see and pay the order).

Revision ID: 0160
Revises: 0140
Create Date: 2026-12-10
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0160"
down_revision: str | None = "0140"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "'held', 'captured', 'released', 'expired'"
NEW_STATES = "'requested', 'held', 'captured', 'released', 'expired', 'declined'"
TOKEN_BYTES = 16


def _mandates() -> None:
    op.create_table(
        "deposit_mandates",
        sa.Column("mandate_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_limit", sa.BigInteger(), nullable=False),
        sa.Column("max_per_hold", sa.BigInteger(), nullable=True),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("total_limit > 0", name=op.f("ck_deposit_mandates_total_limit_positive")),
        sa.CheckConstraint(
            "max_per_hold IS NULL OR max_per_hold > 0", name=op.f("ck_deposit_mandates_max_per_hold_positive")
        ),
        sa.CheckConstraint(
            "used >= 0 AND used <= total_limit", name=op.f("ck_deposit_mandates_used_within_limit")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_deposit_mandates_partner_id_partners")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_deposit_mandates_user_id_users")),
        sa.PrimaryKeyConstraint("mandate_id", name=op.f("pk_deposit_mandates")),
    )
    op.create_index(
        "ix_deposit_mandates_grant", "deposit_mandates", ["user_id", "partner_id", "currency"], unique=False
    )


def _holds() -> None:
    with op.batch_alter_table("deposit_holds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_in_s", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("approve_by_ns", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("approved_via", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("mandate_id", sa.String(length=40), nullable=True))
    op.execute(
        "UPDATE deposit_holds SET expires_in_s = (expires_at_ns - created_at_ns) / 1000000000,"
        " approved_via = 'operator'"
    )
    with op.batch_alter_table("deposit_holds", schema=None) as batch_op:
        batch_op.alter_column("expires_in_s", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("pending_transfer_id", existing_type=sa.LargeBinary(length=16), nullable=True)
        batch_op.alter_column("expires_at_ns", existing_type=sa.BigInteger(), nullable=True)
        batch_op.drop_constraint(op.f("ck_deposit_holds_state_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_deposit_holds_state_known"), f"state IN ({NEW_STATES})")
        batch_op.create_check_constraint(
            op.f("ck_deposit_holds_approved_via_known"), "approved_via IN ('user', 'mandate', 'operator')"
        )
        batch_op.create_foreign_key(
            op.f("fk_deposit_holds_mandate_id_deposit_mandates"),
            "deposit_mandates",
            ["mandate_id"],
            ["mandate_id"],
        )
        batch_op.create_index("ix_deposit_holds_state_approve_by", ["state", "approve_by_ns"], unique=False)


def _orders() -> None:
    with op.batch_alter_table("pay_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("payer_user_id", sa.BigInteger(), nullable=True))
    conn = op.get_bind()
    ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM pay_orders"))]
    for order_id in ids:  # one random token per existing order (the serial id is no longer shown)
        conn.execute(
            sa.text("UPDATE pay_orders SET token = :token WHERE id = :id"),
            {"token": secrets.token_urlsafe(TOKEN_BYTES), "id": order_id},
        )
    with op.batch_alter_table("pay_orders", schema=None) as batch_op:
        batch_op.alter_column("token", existing_type=sa.String(length=40), nullable=False)
        batch_op.create_unique_constraint(op.f("uq_pay_orders_token"), ["token"])
        batch_op.create_foreign_key(
            op.f("fk_pay_orders_payer_user_id_users"), "users", ["payer_user_id"], ["id"]
        )


def upgrade() -> None:
    _mandates()
    _holds()
    _orders()


def downgrade() -> None:
    with op.batch_alter_table("pay_orders", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_pay_orders_payer_user_id_users"), type_="foreignkey")
        batch_op.drop_constraint(op.f("uq_pay_orders_token"), type_="unique")
        batch_op.drop_column("payer_user_id")
        batch_op.drop_column("token")
    op.execute("DELETE FROM deposit_holds WHERE state IN ('requested', 'declined') OR expires_at_ns IS NULL")
    with op.batch_alter_table("deposit_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_deposit_holds_state_approve_by")
        batch_op.drop_constraint(op.f("fk_deposit_holds_mandate_id_deposit_mandates"), type_="foreignkey")
        batch_op.drop_constraint(op.f("ck_deposit_holds_approved_via_known"), type_="check")
        batch_op.drop_constraint(op.f("ck_deposit_holds_state_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_deposit_holds_state_known"), f"state IN ({OLD_STATES})")
        batch_op.alter_column("expires_at_ns", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("pending_transfer_id", existing_type=sa.LargeBinary(length=16), nullable=False)
        batch_op.drop_column("mandate_id")
        batch_op.drop_column("approved_via")
        batch_op.drop_column("approve_by_ns")
        batch_op.drop_column("expires_in_s")
    op.drop_index("ix_deposit_mandates_grant", table_name="deposit_mandates")
    op.drop_table("deposit_mandates")
