"""withdrawals: a withdrawal risk screening holds for a review waits in ``in_review`` (its money held,
not submitted to the provider) until a reviewer approves it (→ ``requested``, submitted as usual) or
rejects it (→ ``rejected``, the hold voided)

Revision ID: 0230
Revises: 0175
Create Date: 2026-12-07 20:15:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0230"
down_revision: str | None = "0175"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "'requested', 'processing', 'unknown', 'paid', 'failed'"
NEW_STATES = "'requested', 'processing', 'unknown', 'paid', 'failed', 'in_review', 'rejected'"


def _states(states: str) -> None:
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_withdrawals_state_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_withdrawals_state_known"), f"state IN ({states})")


def upgrade() -> None:
    _states(NEW_STATES)


def downgrade() -> None:
    # A withdrawal still in review goes back to requested (its hold stands; the provider is asked by
    # the resolve sweep); a rejected one was voided: failed.
    op.execute("UPDATE withdrawals SET state = 'requested' WHERE state = 'in_review'")
    op.execute("UPDATE withdrawals SET state = 'failed' WHERE state = 'rejected'")
    _states(OLD_STATES)
