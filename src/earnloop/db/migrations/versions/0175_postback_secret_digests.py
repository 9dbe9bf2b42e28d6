"""secrets at rest: postback secrets are stored sealed and found by their digest (ADR 0019)

Tracking provider secrets, game publishers' ``earnloop`` secrets and affiliate merchants' secrets are now
stored sealed (``enc1:`` + a Fernet token), which is different at every write: a row can no longer be
found, nor kept unique, by its ``secret`` column. Each table gets ``secret_digest`` (hex SHA-256 of the
secret, computed here from the plaintext rows) and its unique constraint moves from (owner, secret) to
(owner, secret_digest). The ``secret`` columns (500 characters) already hold a sealed value of the
largest accepted secret. Existing rows stay readable as plaintext until ``earnloop secrets rotate``
seals them (this migration has no keys: the keys are runtime settings). SQLite rebuilds each table
(batch mode); no other table references them.

Revision ID: 0175
Revises: 0150
Create Date: 2026-12-11 10:00:00.000000
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0175"
down_revision: str | None = "0150"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIGEST_LEN = 64
# (table, owner column, old unique constraint, new unique constraint)
_TABLES = (
    (
        "tracking_provider_secrets",
        "provider",
        "uq_tracking_provider_secrets_provider_secret",
        "uq_tracking_provider_secrets_provider_digest",
    ),
    (
        "tracking_partner_secrets",
        "partner_id",
        "uq_tracking_partner_secrets_partner_secret",
        "uq_tracking_partner_secrets_partner_digest",
    ),
    (
        "affiliate_merchant_secrets",
        "merchant_id",
        "uq_affiliate_merchant_secrets_merchant_secret",
        "uq_affiliate_merchant_secrets_merchant_digest",
    ),
)


def _fill_digests(table: str) -> None:
    """Every row's digest, from its (plaintext, before this revision) secret."""
    rows = sa.table(table, sa.column("id"), sa.column("secret"), sa.column("secret_digest"))
    bind = op.get_bind()
    for row_id, secret in bind.execute(sa.select(rows.c.id, rows.c.secret)).all():
        digest = hashlib.sha256(str(secret).encode()).hexdigest()
        bind.execute(sa.update(rows).where(rows.c.id == row_id).values(secret_digest=digest))


def upgrade() -> None:
    for table, owner, old, new in _TABLES:
        op.add_column(table, sa.Column("secret_digest", sa.String(DIGEST_LEN), nullable=True))
        _fill_digests(table)
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("secret_digest", existing_type=sa.String(DIGEST_LEN), nullable=False)
            batch_op.drop_constraint(old, type_="unique")
            batch_op.create_unique_constraint(new, [owner, "secret_digest"])


def downgrade() -> None:
    # The previous code reads every secret as plaintext: downgrade before `earnloop secrets rotate`
    # has sealed any, or set the secrets again afterwards.
    for table, owner, old, new in _TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(new, type_="unique")
            batch_op.create_unique_constraint(old, [owner, "secret"])
            batch_op.drop_column("secret_digest")
