"""operators with roles; stored, versioned risk strategies with test packs, pointers and an audit log

- ``operators``: named people with roles and an API token stored as its SHA-256 digest.
- ``risk_strategy_versions``: every published version of a named strategy (rules and thresholds as
  JSON, changelog, author, status draft → live → retired, approver, the backtest summary once one
  ran); at most one live version per name (a partial unique index).
- ``risk_strategy_examples``: each version's test pack.
- ``risk_strategy_pointers``: the live and shadow version of each strategy and the generation every
  process polls to hot-deploy.
- ``risk_strategy_audit``: every change, by whom (rows are only inserted).

Revision ID: 0190
Revises: 0175
Create Date: 2026-12-07 19:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0190"
down_revision: str | None = "0175"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NAME_LEN = 32
LIVE = sa.text("status = 'live'")


def _operators() -> None:
    op.create_table(
        "operators",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("name", name=op.f("uq_operators_name")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_operators_token_sha256")),
    )


def _versions() -> None:
    table = "risk_strategy_versions"
    op.create_table(
        table,
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(NAME_LEN), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rules_json", sa.Text(), nullable=False),
        sa.Column("thresholds_json", sa.Text(), nullable=False),
        sa.Column("changelog", sa.Text(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approver_id", sa.BigInteger(), nullable=True),
        sa.Column("approver", sa.String(64), nullable=True),
        sa.Column("approved_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("self_approved", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("backtest_json", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('draft', 'live', 'retired')", name=op.f(f"ck_{table}_status_known")),
        sa.CheckConstraint("version >= 1", name=op.f(f"ck_{table}_version_positive")),
        sa.CheckConstraint(
            "(approved_at_ns IS NULL) = (approver_id IS NULL)", name=op.f(f"ck_{table}_approval_complete")
        ),
        sa.CheckConstraint(
            "status = 'draft' OR approved_at_ns IS NOT NULL", name=op.f(f"ck_{table}_live_was_approved")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["operators.id"], name=op.f(f"fk_{table}_author_id_operators")
        ),
        sa.ForeignKeyConstraint(
            ["approver_id"], ["operators.id"], name=op.f(f"fk_{table}_approver_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("name", "version", name="uq_risk_strategy_versions_name_version"),
    )
    op.create_index(
        "uq_risk_strategy_versions_live",
        table,
        ["name"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def _examples_pointers_audit() -> None:
    op.create_table(
        "risk_strategy_examples",
        sa.Column("version_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(120), nullable=False),
        sa.Column("activation_json", sa.Text(), nullable=False),
        sa.Column("expected", sa.String(16), nullable=False),
        sa.CheckConstraint(
            "expected IN ('allow', 'review', 'block')", name=op.f("ck_risk_strategy_examples_expected_known")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["risk_strategy_versions.id"],
            name=op.f("fk_risk_strategy_examples_version_id_risk_strategy_versions"),
        ),
        sa.PrimaryKeyConstraint("version_id", "position", name=op.f("pk_risk_strategy_examples")),
    )
    op.create_table(
        "risk_strategy_pointers",
        sa.Column("name", sa.String(NAME_LEN), nullable=False),
        sa.Column("live_version", sa.Integer(), nullable=True),
        sa.Column("shadow_version", sa.Integer(), nullable=True),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_risk_strategy_pointers")),
    )
    op.create_table(
        "risk_strategy_audit",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(NAME_LEN), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("operator_id", sa.BigInteger(), nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_risk_strategy_audit_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_strategy_audit")),
    )
    op.create_index("ix_risk_strategy_audit_name", "risk_strategy_audit", ["name", "id"])


def upgrade() -> None:
    _operators()
    _versions()
    _examples_pointers_audit()


def downgrade() -> None:
    for table in (
        "risk_strategy_audit",
        "risk_strategy_pointers",
        "risk_strategy_examples",
        "risk_strategy_versions",
        "operators",
    ):
        op.drop_table(table)
