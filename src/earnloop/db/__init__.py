"""Database access: engines, the unit of work, shared metadata and migrations.

Domains define their tables on :data:`earnloop.db.metadata.metadata`; only a unit of work commits.
"""

from earnloop.db.engine import Database, make_database
from earnloop.db.metadata import metadata

__all__ = ["Database", "make_database", "metadata"]
