"""Shared fixtures: the same tests run on SQLite and on PostgreSQL (a fresh schema per xdist worker).

PostgreSQL and Redis are required in CI (``CI=true``): a missing service fails the run there, and is a
skip with a reason elsewhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from earnloop.db.engine import Database, make_database
from earnloop.db.migrate import upgrade
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine, memory_engine, shadowed_default
from tests.live_server import client, serve

PG_URL = os.environ.get("EARNLOOP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("EARNLOOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# One key for the stored secrets of the whole run: this process (``Settings()``) and every ``earnloop``
# subprocess (:class:`Cli`) seal and open with it, and no key file is written under ./var.
SECRETS_KEYS = os.environ.setdefault("EARNLOOP_SECRETS_KEYS", Fernet.generate_key().decode("ascii"))


def require_service(name: str, error: Exception) -> None:
    """Fail in CI, skip elsewhere, with the reason."""
    message = f"{name} is not reachable ({type(error).__name__}: {str(error).splitlines()[0][:160]})"
    if IN_CI:
        pytest.fail(f"{message}; CI requires it", pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class DbTarget:
    """Where a test database lives, so that subprocesses can open it too."""

    url: str
    search_path: str | None

    def open(self) -> Database:
        return make_database(self.url, search_path=self.search_path, pool_size=4)

    @property
    def cli_url(self) -> str:
        """``EARNLOOP_DATABASE_URL`` for a subprocess (the schema travels as a libpq option)."""
        if self.search_path is None:
            return self.url
        return f"{self.url}?options=-csearch_path%3D{self.search_path}"


def _all_tables() -> list[str]:
    import earnloop.tables  # noqa: F401
    from earnloop.db.metadata import metadata

    return [t.name for t in reversed(metadata.sorted_tables) if t.name != "ledger_clock"]


def reset_ledger(db: Database) -> None:
    """Empty every table (children first) and rewind the ledger clock."""
    tables = _all_tables()
    with db.uow() as conn:
        # DELETE, not TRUNCATE: on a few empty tables it is ~20x faster on PostgreSQL.
        for table in tables:
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("UPDATE ledger_clock SET last_timestamp = 0"))


@pytest.fixture(scope="session")
def sqlite_target(tmp_path_factory: pytest.TempPathFactory) -> DbTarget:
    path: Path = tmp_path_factory.mktemp("sqlite") / "earnloop.db"
    target = DbTarget(f"sqlite:///{path}", None)
    db = target.open()
    upgrade(db)
    db.dispose()
    return target


@pytest.fixture(scope="session")
def postgres_target(worker_id: str) -> Iterator[DbTarget]:
    schema = f"t_{worker_id}_{uuid.uuid4().hex[:8]}"
    admin = make_database(PG_URL, pool_size=1)
    try:
        with admin.uow() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any connection failure means "not reachable"
        admin.dispose()
        require_service("PostgreSQL", exc)
    target = DbTarget(PG_URL, schema)
    db = target.open()
    upgrade(db)
    db.dispose()
    yield target
    with admin.uow() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_target(request: pytest.FixtureRequest) -> DbTarget:
    target: DbTarget = request.getfixturevalue(f"{request.param}_target")
    return target


@pytest.fixture
def db(db_target: DbTarget) -> Iterator[Database]:
    """A migrated, empty database (SQLite and PostgreSQL)."""
    database = db_target.open()
    reset_ledger(database)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ledger(clock: ManualClock) -> LedgerService:
    return LedgerService(clock)


ADMIN_TOKEN = "test-admin-token-0123456789abcdef"


@pytest.fixture
def risk() -> RiskEngine:
    """The risk engine of the money-flow tests: allows every event, the default strategy in shadow
    beside it (its decisions recorded). Those tests script in one instant what people do in days; the
    default strategy itself is tested in ``tests/integration/risk/``."""
    return memory_engine(strategies=shadowed_default)


@pytest.fixture
def api(db: Database, db_target: DbTarget, clock: ManualClock, risk: RiskEngine) -> Iterator[httpx.Client]:
    """An authenticated HTTP client against a real server running the app on the test database."""
    from earnloop.api.app import create_app
    from earnloop.config import Settings

    settings = Settings(database_url=db_target.url, admin_token=ADMIN_TOKEN)
    app = create_app(settings, db=db, clock=clock, risk=risk)
    with serve(app) as base_url, client(base_url, ADMIN_TOKEN) as http:
        yield http


@pytest.fixture
def redis_url() -> str:
    """A reachable Redis (fails in CI, skips elsewhere when absent)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        require_service("Redis", exc)
    return REDIS_URL


EARNLOOP = str(Path(sys.executable).with_name("earnloop"))


@dataclass(frozen=True)
class Cli:
    """Runs ``earnloop`` as a real subprocess against the test database."""

    target: DbTarget
    cwd: Path

    def __call__(self, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("EARNLOOP_")}
        environment = {
            **inherited,
            "EARNLOOP_DATABASE_URL": self.target.cli_url,
            "EARNLOOP_SECRETS_KEYS": SECRETS_KEYS,
            "COLUMNS": "200",
            "NO_COLOR": "1",
            **env,
        }
        return subprocess.run(
            [EARNLOOP, *args],
            cwd=self.cwd,
            env=environment,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture
def cli(db: Database, db_target: DbTarget, tmp_path: Path) -> Cli:
    """``earnloop`` on the (migrated, empty) test database — SQLite or PostgreSQL."""
    return Cli(db_target, tmp_path)
