"""credit: the model registry (credit_models), every score computed (credit_scores, append-only), the
privilege policy per score band (credit_privileges; empty: the built-in bands apply); deposit holds may be
waived by the user's credit score (state 'waived', the decision kept in credit_decision)

Revision ID: 0251
Revises: 0240, 0160
Create Date: 2026-12-07 23:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0251"
# also after 0160 (another branch), which rewrites deposit_holds' state check: this one extends it
down_revision: str | tuple[str, ...] | None = ("0240", "0160")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD_STATES = "'requested', 'held', 'captured', 'released', 'expired', 'declined'"
NEW_STATES = OLD_STATES + ", 'waived'"


def _models() -> None:
    op.create_table(
        "credit_models",
        sa.Column("version", SERIAL, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("window_start_ns", sa.BigInteger(), nullable=False),
        sa.Column("window_end_ns", sa.BigInteger(), nullable=False),
        sa.Column("metrics_json", sa.Text(), nullable=False),
        sa.Column("bins_json", sa.Text(), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=False),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("approved_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.CheckConstraint("kind IN ('champion', 'challenger')", name=op.f("ck_credit_models_kind_known")),
        sa.CheckConstraint(
            "state IN ('draft', 'approved', 'retired')", name=op.f("ck_credit_models_state_known")
        ),
        sa.CheckConstraint("window_start_ns < window_end_ns", name=op.f("ck_credit_models_window_ordered")),
        sa.CheckConstraint(
            "approved_by IS NULL OR approved_by <> created_by", name=op.f("ck_credit_models_four_eyes")
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_credit_models")),
    )


def _scores() -> None:
    op.create_table(
        "credit_scores",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("model_version", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("subscores_json", sa.Text(), nullable=False),
        sa.Column("reasons_json", sa.Text(), nullable=False),
        sa.Column("features_json", sa.Text(), nullable=False),
        sa.Column("computed_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("score BETWEEN 350 AND 950", name=op.f("ck_credit_scores_score_in_range")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_credit_scores_user_id_users")),
        sa.ForeignKeyConstraint(
            ["model_version"],
            ["credit_models.version"],
            name=op.f("fk_credit_scores_model_version_credit_models"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_scores")),
    )
    op.create_index("ix_credit_scores_user_time", "credit_scores", ["user_id", "computed_at_ns"])


def _privileges() -> None:
    op.create_table(
        "credit_privileges",
        sa.Column("band_min", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("band", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("deposit_free", sa.Boolean(), nullable=False),
        sa.Column("deposit_reduced_pct", sa.Integer(), nullable=False),
        sa.Column("withdrawal_limit", sa.BigInteger(), nullable=True),
        sa.Column("cashback_release_days", sa.Integer(), nullable=True),
        sa.Column("credit_line_limit", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "band_min BETWEEN 350 AND 950", name=op.f("ck_credit_privileges_band_min_in_range")
        ),
        sa.CheckConstraint(
            "deposit_reduced_pct BETWEEN 0 AND 100", name=op.f("ck_credit_privileges_reduced_pct_in_range")
        ),
        sa.CheckConstraint(
            "withdrawal_limit IS NULL OR withdrawal_limit > 0",
            name=op.f("ck_credit_privileges_withdrawal_limit_positive"),
        ),
        sa.CheckConstraint(
            "cashback_release_days IS NULL OR cashback_release_days >= 0",
            name=op.f("ck_credit_privileges_release_days_ok"),
        ),
        sa.CheckConstraint(
            "credit_line_limit >= 0", name=op.f("ck_credit_privileges_credit_line_limit_nonnegative")
        ),
        sa.PrimaryKeyConstraint("band_min", name=op.f("pk_credit_privileges")),
    )


def _holds(states: str) -> None:
    with op.batch_alter_table("deposit_holds", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_deposit_holds_state_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_deposit_holds_state_known"), f"state IN ({states})")


def upgrade() -> None:
    _models()
    _scores()
    _privileges()
    with op.batch_alter_table("deposit_holds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_decision", sa.Text(), nullable=True))
    _holds(NEW_STATES)


def downgrade() -> None:
    # A waived hold never held money: it becomes a released one (withdrawn by the score).
    op.execute("UPDATE deposit_holds SET state = 'released', reason = 'waived' WHERE state = 'waived'")
    _holds(OLD_STATES)
    with op.batch_alter_table("deposit_holds", schema=None) as batch_op:
        batch_op.drop_column("credit_decision")
    op.drop_table("credit_privileges")
    op.drop_index("ix_credit_scores_user_time", table_name="credit_scores")
    op.drop_table("credit_scores")
    op.drop_table("credit_models")
