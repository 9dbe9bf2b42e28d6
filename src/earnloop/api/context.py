"""What a request can reach: settings, database, services and metrics, built once per app."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService
from earnloop.observability import Metrics


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    db: Database
    ledger: LedgerService
    metrics: Metrics
    admin_token: str | None


def app_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx
