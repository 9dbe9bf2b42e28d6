"""ledger (PostgreSQL): transfer→account references checked per statement; HOT balance updates

On PostgreSQL a foreign key is checked row by row: a batch of 8,190 transfers ran 16,380 referential
checks (each a ``SELECT … FOR KEY SHARE``) inside its ``COPY``, over half of the batch's insert time.
This migration replaces the two foreign keys of ``ledger_transfers`` on ``ledger_accounts`` with
statement-level triggers that enforce the same rule set-based, once per statement:

- after an INSERT or UPDATE of ``ledger_transfers``, every new row's debit and credit account exists;
- after a DELETE of ``ledger_accounts``, no transfer references a deleted account;
- an account's ``id`` never changes (it never did: accounts are immutable except balances and flags).

Both checking triggers first take the ledger's write lock (the ``ledger_clock`` row, which every ledger
write already holds), so a check and a concurrent delete cannot interleave — the guarantee of the
foreign key, without its per-row cost. SQLite keeps its foreign keys (it has no statement triggers).

It also leaves a fifth of each ``ledger_accounts`` page free (``fillfactor = 80``) so that balance
updates, which touch no indexed column, can be HOT updates that skip index maintenance.

Revision ID: 0140
Revises: 0130
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0140"
down_revision: str | None = "0130"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FOREIGN_KEYS = (
    ("fk_ledger_transfers_debit_account_id_ledger_accounts", "debit_account_id"),
    ("fk_ledger_transfers_credit_account_id_ledger_accounts", "credit_account_id"),
)

_UPGRADE = """
CREATE FUNCTION ledger_transfers_accounts_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM ledger_clock WHERE id = 1 FOR UPDATE;
    IF EXISTS (
        SELECT 1 FROM new_transfers t
        WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = t.debit_account_id)
           OR NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = t.credit_account_id)
    ) THEN
        RAISE EXCEPTION 'ledger_transfers: a transfer references an unknown ledger account'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_transfers_accounts_exist_after_insert AFTER INSERT ON ledger_transfers
    REFERENCING NEW TABLE AS new_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_transfers_accounts_exist();

CREATE TRIGGER ledger_transfers_accounts_exist_after_update AFTER UPDATE ON ledger_transfers
    REFERENCING NEW TABLE AS new_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_transfers_accounts_exist();

CREATE FUNCTION ledger_accounts_unreferenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM ledger_clock WHERE id = 1 FOR UPDATE;
    IF EXISTS (
        SELECT 1 FROM old_accounts a
        WHERE EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.debit_account_id = a.id)
           OR EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.credit_account_id = a.id)
    ) THEN
        RAISE EXCEPTION 'ledger_accounts: an account with transfers cannot be deleted'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_accounts_unreferenced_after_delete AFTER DELETE ON ledger_accounts
    REFERENCING OLD TABLE AS old_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_accounts_unreferenced();

CREATE FUNCTION ledger_accounts_id_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_accounts: an account id never changes'
        USING ERRCODE = 'foreign_key_violation';
END $$;

CREATE TRIGGER ledger_accounts_id_immutable_before_update BEFORE UPDATE OF id ON ledger_accounts
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION ledger_accounts_id_immutable();

ALTER TABLE ledger_accounts SET (fillfactor = 80);
"""

_DOWNGRADE = """
ALTER TABLE ledger_accounts RESET (fillfactor);
DROP TRIGGER ledger_accounts_id_immutable_before_update ON ledger_accounts;
DROP FUNCTION ledger_accounts_id_immutable();
DROP TRIGGER ledger_accounts_unreferenced_after_delete ON ledger_accounts;
DROP FUNCTION ledger_accounts_unreferenced();
DROP TRIGGER ledger_transfers_accounts_exist_after_update ON ledger_transfers;
DROP TRIGGER ledger_transfers_accounts_exist_after_insert ON ledger_transfers;
DROP FUNCTION ledger_transfers_accounts_exist();
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _column in _FOREIGN_KEYS:
        op.drop_constraint(name, "ledger_transfers", type_="foreignkey")
    op.execute(_UPGRADE)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_DOWNGRADE)
    for name, column in _FOREIGN_KEYS:
        op.create_foreign_key(name, "ledger_transfers", "ledger_accounts", [column], ["id"])
