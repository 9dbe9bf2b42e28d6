"""Schema migrations (Alembic) driven from code: upgrade, and "is the schema current?" for start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from earnloop.db.engine import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
UPGRADE_HINT = "run `earnloop db upgrade` (or `make demo`) to bring the database schema up to date"


class SchemaBehindError(RuntimeError):
    """The database schema is older than the code: the app refuses to start."""


@dataclass(frozen=True)
class SchemaState:
    """Revisions applied to the database and the heads the code ships (several while branches exist)."""

    currents: frozenset[str]
    heads: frozenset[str]

    @property
    def is_current(self) -> bool:
        return self.currents == self.heads

    @property
    def current(self) -> str | None:
        return ",".join(sorted(self.currents)) or None

    @property
    def head(self) -> str | None:
        return ",".join(sorted(self.heads)) or None


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def upgrade(db: Database, revision: str = "heads") -> None:
    """Apply every migration up to ``revision`` in one transaction."""
    cfg = _config()
    with db.uow(write=True) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def schema_state(db: Database) -> SchemaState:
    heads = frozenset(ScriptDirectory.from_config(_config()).get_heads())
    with db.uow(write=False) as conn:
        currents = frozenset(MigrationContext.configure(conn).get_current_heads())
    return SchemaState(currents=currents, heads=heads)


def require_current_schema(db: Database) -> None:
    """Raise :class:`SchemaBehindError` with the fixing command when the schema is not at head."""
    state = schema_state(db)
    if not state.is_current:
        raise SchemaBehindError(
            f"database schema is at {state.current or 'nothing'} but the code needs {state.head}: "
            + UPGRADE_HINT
        )
