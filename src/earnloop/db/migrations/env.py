"""Alembic environment: runs migrations on the connection handed in by :mod:`earnloop.db.migrate`.

Migrations are written by hand and state their own tables, so no ``target_metadata`` (it serves only
autogenerate): ``db/`` imports no domain's models (ADR 0022)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
