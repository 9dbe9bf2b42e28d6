"""Demo data for ``make demo``, created through the real services (ledger, wallet, pay, donations).

Idempotent: users and partners are looked up by name, money moves carry fixed idempotency keys, so
seeding twice changes nothing. Secrets of what it creates (user tokens, partner API keys) are written
once, one file each under ``var/demo/`` (mode 0600), never printed. Later issues replace this with
the simulated population.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Connection, select

from earnloop.auth.admin_token import ensure_admin_token_file
from earnloop.auth.models import partners, users
from earnloop.auth.service import create_partner, create_user
from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.service import LedgerService
from earnloop.wallet import cashback, donations, pay, service
from earnloop.wallet.chart import AccountKind
from earnloop.wallet.currencies import currency

CURRENCY = "TWD"
DAY_NS = 86_400 * 1_000_000_000
USERS = {"alice": 50_000, "bob": 20_000}
MERCHANT, CHARITY = "Good Neighbour Store", "Harbour Food Bank"


def seed(db: Database, settings: Settings) -> str:
    """Create the demo population; return a human summary with example requests."""
    token_file = ensure_admin_token_file(settings)
    secrets_dir = Path(settings.admin_token_file).parent / "demo"
    ledger = LedgerService(SystemClock())
    now = ledger.clock.now_ns()
    created: dict[str, str] = {}
    with db.uow() as conn:
        ids = {handle: _user(conn, handle, created) for handle in USERS}
        merchant = _partner(conn, MERCHANT, "merchant", created)
        charity = _partner(conn, CHARITY, "charity", created)
        for handle, funds in USERS.items():
            _fund(conn, ledger, ids[handle], handle, funds)
        _cashback(conn, ledger, ids["alice"], now)
        _one_cent_purchase(conn, ledger, merchant, ids["alice"])
        _donation(conn, ledger, charity, ids["bob"], now)
    for name, secret in created.items():
        _write_secret(secrets_dir / f"{name}.token", secret)
    base = f"http://{settings.host}:{settings.port}"
    alice_account = service.user_account(ids["alice"], currency(CURRENCY)).id
    alice_auth = f'-H "Authorization: Bearer $(cat {secrets_dir}/alice.token)"'
    admin_auth = f'-H "Authorization: Bearer $(cat {token_file})"'
    return (
        f"demo ready: users alice and bob, a merchant and a charity (tokens and keys in {secrets_dir}/)\n"
        f"  curl {alice_auth} {base}/v1/me/wallets/{CURRENCY}\n"
        f"  curl {admin_auth} {base}/v1/ledger/accounts/{alice_account}/balance"
    )


def _write_secret(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")


def _user(conn: Connection, handle: str, secrets: dict[str, str]) -> int:
    row = conn.execute(select(users.c.id).where(users.c.handle == handle)).first()
    if row is not None:
        return int(row.id)
    created = create_user(conn, handle)
    secrets[handle] = created.secret
    return created.id


def _partner(conn: Connection, name: str, kind: str, secrets: dict[str, str]) -> int:
    row = conn.execute(select(partners.c.id).where(partners.c.name == name)).first()
    if row is not None:
        return int(row.id)
    created = create_partner(conn, name, kind, CURRENCY)
    secrets[kind] = created.secret
    return created.id


def _fund(conn: Connection, ledger: LedgerService, user_id: int, handle: str, amount: int) -> None:
    service.open_wallet(conn, ledger, user_id, CURRENCY)
    service.adjust(
        conn,
        ledger,
        idempotency_key=f"demo-fund-{handle}",
        user_id=user_id,
        currency_code=CURRENCY,
        amount=amount,
        direction="credit",
        reason="demo welcome credit",
        actor="demo",
    )


def _cashback(conn: Connection, ledger: LedgerService, user_id: int, now: int) -> None:
    operator = cashback.Funding(AccountKind.OPERATOR_FUNDING, 0)
    rewards = (
        ("shopping", "demo-hotel-booking", 1_250, now + 30 * DAY_NS),
        ("game", "demo-game-level-10", 300, now),
    )
    for source, ref, amount, release_at in rewards:
        if cashback.find(conn, source, ref) is not None:
            continue
        cashback.credit_pending(
            conn,
            ledger,
            source=source,
            ref=ref,
            user_id=user_id,
            currency_code=CURRENCY,
            amount=amount,
            release_at_ns=release_at,
            funding=operator,
        )
    cashback.confirm_due(conn, ledger, now)


def _one_cent_purchase(conn: Connection, ledger: LedgerService, merchant_id: int, user_id: int) -> None:
    order = pay.create_order(
        conn,
        ledger,
        merchant_id=merchant_id,
        merchant_order_id="demo-water-1",
        amount=1,
        currency_code=CURRENCY,
        ttl_s=pay.ORDER_TTL_MAX_S,
    )
    if order["state"] == "awaiting_user":
        pay.confirm(
            conn, ledger, idempotency_key="demo-pay-water-1", user_id=user_id, order_id=order["order_id"]
        )


def _donation(conn: Connection, ledger: LedgerService, charity_id: int, user_id: int, now: int) -> None:
    existing = {c["name"]: c for c in donations.list_campaigns(conn, ledger, charity_id)}
    campaign = existing.get("Winter meals") or donations.create_campaign(
        conn,
        ledger,
        charity_id=charity_id,
        name="Winter meals",
        currency_code=CURRENCY,
        goal=1_000_000,
        starts_at_ns=now - DAY_NS,
        ends_at_ns=now + 365 * DAY_NS,
    )
    donations.donate(
        conn,
        ledger,
        idempotency_key="demo-donation-1",
        user_id=user_id,
        campaign_id=campaign["campaign_id"],
        amount=100,
    )
