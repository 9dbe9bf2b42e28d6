"""Alembic environment: runs migrations on the connection handed in by :mod:`earnloop.db.migrate`."""

from __future__ import annotations

from alembic import context

import earnloop.db.registry  # noqa: F401  (registers every domain's tables)
from earnloop.db.metadata import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
