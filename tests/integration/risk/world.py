"""What the risk list, feed and phone tests share: an app whose settings name a feed signing key, users
and partners made over HTTP, and a fingerprint of the risk tables (a refused request must change none)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select, text

from earnloop.db.engine import Database
from earnloop.risk.list_models import risk_feed_partners, risk_list_entries
from earnloop.risk.phone_models import phone_numbers, phone_reporters, phone_reports
from tests.conftest import ADMIN_TOKEN, DbTarget
from tests.live_server import client, serve

RISK_TABLES = (risk_list_entries, risk_feed_partners, phone_reports, phone_numbers, phone_reporters)


@dataclass(frozen=True)
class RiskApp:
    admin: httpx.Client
    base_url: str
    key_file: Path

    def as_user(self, token: str) -> httpx.Client:
        return client(self.base_url, token)

    def as_partner(self, api_key: str) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"X-Api-Key": api_key}, timeout=30)

    def new_user(self, handle: str) -> tuple[int, str]:
        made = self.admin.post("/v1/users", json={"handle": handle})
        assert made.status_code == 201, made.text
        return made.json()["user_id"], made.json()["token"]

    def new_partner(self, name: str) -> tuple[int, str]:
        body = {"name": name, "kind": "merchant", "settlement_currency": "TWD"}
        made = self.admin.post("/v1/partners", json=body)
        assert made.status_code == 201, made.text
        return made.json()["partner_id"], made.json()["api_key"]


def risk_app(db: Database, target: DbTarget, key_file: Path) -> Iterator[RiskApp]:
    from earnloop.api.app import create_app
    from earnloop.config import Settings

    settings = Settings(
        database_url=target.url, admin_token=ADMIN_TOKEN, risk_feed_signing_key_file=str(key_file)
    )
    app = create_app(settings, db=db)
    with serve(app) as base_url, client(base_url, ADMIN_TOKEN) as http:
        yield RiskApp(http, base_url, key_file)


def fingerprint(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the risk tables."""
    with db.uow(write=False) as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(select(t))) for t in RISK_TABLES}


def age_user(db: Database, user_id: int, days: int) -> None:
    """Make a user's account ``days`` old (account age is part of a reporter's trust)."""
    with db.uow() as conn:
        conn.execute(
            text("UPDATE users SET created_at_ns = created_at_ns - :by WHERE id = :id"),
            {"by": days * 86_400 * 1_000_000_000, "id": user_id},
        )
