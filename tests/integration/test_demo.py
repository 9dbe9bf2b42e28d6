"""``earnloop demo seed`` builds the demo through the real services, and seeding twice changes nothing."""

from pathlib import Path

from sqlalchemy import Connection, func, select

from earnloop.auth.models import users
from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.demo import seed
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.models import transfers
from earnloop.ledger.service import LedgerService
from earnloop.wallet import service


def _transfer_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(transfers)).scalar_one())


def test_demo_seed_is_idempotent_and_shows_a_real_wallet(db: Database, tmp_path: Path) -> None:
    settings = Settings(database_url="sqlite://", admin_token_file=str(tmp_path / "admin_token"))
    first = seed(db, settings)
    with db.uow(write=False) as conn:
        after_first = _transfer_count(conn)
    second = seed(db, settings)
    ledger = LedgerService(SystemClock())
    with db.uow(write=False) as conn:
        after_second = _transfer_count(conn)
        alice_id = conn.execute(select(users.c.id).where(users.c.handle == "alice")).scalar_one()
        alice = service.view(conn, ledger, alice_id, "TWD")
    assert first.splitlines()[1:] == second.splitlines()[1:]
    assert after_first == after_second > 0
    assert (alice.available, alice.pending, alice.lifetime_earned) == (50_000 + 300 - 1, 1_250, 300)
    assert (tmp_path / "demo" / "alice.token").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [
        "alice.token",
        "bob.token",
        "charity.token",
        "merchant.token",
    ]
