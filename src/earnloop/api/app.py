"""The FastAPI app factory: wires settings, database and services, and refuses a schema that is behind."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from earnloop import __version__
from earnloop.api import affiliate as affiliate_api
from earnloop.api import catalog as catalog_api
from earnloop.api import credit as credit_api
from earnloop.api import credit_line as credit_line_api
from earnloop.api import einvoice as einvoice_api
from earnloop.api import escrow as escrow_api
from earnloop.api import health, ledger, wallet
from earnloop.api import holds as holds_api
from earnloop.api import mandates as mandates_api
from earnloop.api import pay as pay_api
from earnloop.api import phone_reputation as phone_reputation_api
from earnloop.api import risk_decisions as risk_decisions_api
from earnloop.api import risk_lists as risk_lists_api
from earnloop.api import risk_strategies as risk_strategies_api
from earnloop.api import tracking as tracking_api
from earnloop.api import webhooks as webhooks_api
from earnloop.api import withdrawal_reviews as withdrawal_reviews_api
from earnloop.api import withdrawals as withdrawals_api
from earnloop.api.context import AppContext
from earnloop.api.limits import BodyLimitMiddleware, BodyLimits
from earnloop.api.problems import install_problem_handlers
from earnloop.auth.admin_token import resolve_admin_token
from earnloop.config import Settings, get_settings
from earnloop.db.engine import Database, database_from_settings
from earnloop.db.group_commit import GroupCommitter
from earnloop.db.migrate import require_current_schema
from earnloop.ledger.clock import Clock, SystemClock
from earnloop.ledger.service import LedgerService
from earnloop.observability import Metrics, RequestContextMiddleware
from earnloop.outbox.targets import Resolver
from earnloop.risk.engine import RiskEngine, build_engine
from earnloop.secretbox import box_from_settings
from earnloop.tracking.service import BODY_MAX_BYTES as POSTBACK_MAX_BYTES

# FastAPI's native OpenTelemetry looks up the global providers on every request, even when none is
# configured; unless the operator asks for it (EARNLOOP_OPENTELEMETRY), it is switched off.
TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    clock: Clock | None = None,
    check_schema: bool = True,
    webhook_resolver: Resolver | None = None,
    risk: RiskEngine | None = None,
) -> FastAPI:
    """Build the app. Raises :class:`~earnloop.db.migrate.SchemaBehindError` on an old schema.
    ``webhook_resolver`` resolves webhook hosts (default: the system's; tests pass an in-memory one);
    ``risk``: the risk engine (default: the one the settings describe)."""
    settings = settings or get_settings()
    db = db or database_from_settings(settings)
    if check_schema:
        require_current_schema(db)
    metrics = Metrics()
    ctx = AppContext(
        settings=settings,
        db=db,
        ledger=LedgerService(clock or SystemClock()),
        metrics=metrics,
        admin_token=resolve_admin_token(settings),
        box=box_from_settings(settings),
        risk=risk or build_engine(settings, db=db),
        group_commit=GroupCommitter(db) if db.is_sqlite else None,
    )
    app = FastAPI(
        title="earnloop",
        version=__version__,
        description="Cashback, wallet, risk and credit on a double-entry ledger.",
        telemetry=None if settings.opentelemetry else TELEMETRY_OFF,
    )
    app.state.ctx = ctx
    install_problem_handlers(app)
    # FastAPI tries routes and routers in order, and each one tried costs every request that passes it
    # (~0.15 ms for a postback behind eight routers): the high-volume provider-facing routes come first.
    tracking_api.install_postbacks(app)
    app.include_router(health.router)
    app.include_router(tracking_api.router)
    app.include_router(affiliate_api.router)
    app.include_router(ledger.router)
    app.include_router(wallet.router)
    app.include_router(pay_api.router)
    app.include_router(escrow_api.escrow_router)
    app.include_router(holds_api.holds_router)
    app.include_router(credit_line_api.credit_line_router)
    app.include_router(mandates_api.router)
    app.include_router(webhooks_api.router)
    app.include_router(withdrawals_api.router)
    app.include_router(withdrawal_reviews_api.router)
    app.include_router(catalog_api.router)
    app.include_router(tracking_api.admin)
    app.include_router(affiliate_api.admin)
    app.include_router(risk_lists_api.router)
    app.include_router(phone_reputation_api.router)
    risk_strategies_api.install(app, ctx)
    app.include_router(risk_decisions_api.router)
    app.include_router(credit_api.router)
    withdrawals_api.install_payouts(app, settings)
    webhooks_api.install(app, settings, webhook_resolver)
    einvoice_api.install(app, settings)
    app.add_middleware(BodyLimitMiddleware, limits=body_limits(settings))
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app


def body_limits(settings: Settings) -> BodyLimits:
    """The body limits (:mod:`earnloop.api.limits`): postback receivers are anonymous and keep theirs."""
    receivers = {"/postbacks/": POSTBACK_MAX_BYTES, "/affiliate/postbacks/": POSTBACK_MAX_BYTES}
    return BodyLimits(settings.max_request_bytes, settings.max_anonymous_request_bytes, receivers)
