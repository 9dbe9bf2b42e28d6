"""Screening one money event: build its point-in-time activation, decide it by the live strategy (and a
shadow beside it), and record the decision in ``risk_decisions`` before the caller moves any money.
Idempotent on the event reference: the first decision stands (issue 15, ADR 0024).

Owns :func:`screen` (decided events), :func:`observe` (events that only feed velocity: clicks,
installs, logins, refunds) and :class:`ScreenResult`. Neither ever raises for the engine's own
failures: a velocity backend or feature source that fails leaves its fields at zero and the decision
at least ``review`` (``feature_error:<name>``), a rule that errs fails safe to review (``rules.py``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from sqlalchemy import Connection, bindparam, select, text

from earnloop.db import driver
from earnloop.risk.engine import RiskEngine
from earnloop.risk.events import RiskEvent
from earnloop.risk.models import risk_decisions
from earnloop.risk.rules import SEVERITY, Decision, evaluate, narrowed

log = structlog.get_logger("earnloop.risk")

ScreenOutcome = Literal["allow", "review", "deny"]
FEATURE_ERROR = "feature_error"
DAY_NS = 86_400 * 10**9
PRIOR_WINDOW_NS = 30 * DAY_NS
REASONS_CHARS_MAX = 4_000
_ACTED: dict[str, ScreenOutcome] = {"allow": "allow", "review": "review", "block": "deny"}

_RECORD = text(
    "INSERT INTO risk_decisions (event_ref, decision, strategy_version, created_at_ns, kind, user_id,"
    " amount, currency, score, reasons, latency_us, activation, shadow_decision, shadow_version,"
    " shadow_score, shadow_reasons)"
    " VALUES (:event_ref, :decision, :strategy_version, :created_at_ns, :kind, :user_id, :amount,"
    " :currency, :score, :reasons, :latency_us, :activation, :shadow_decision, :shadow_version,"
    " :shadow_score, :shadow_reasons)"
    " ON CONFLICT DO NOTHING RETURNING id"
)
_RECORDED = select(
    risk_decisions.c.decision,
    risk_decisions.c.score,
    risk_decisions.c.reasons,
    risk_decisions.c.strategy_version,
    risk_decisions.c.latency_us,
).where(risk_decisions.c.event_ref == bindparam("event_ref"))
_PRIOR = text(
    "SELECT decision, COUNT(*) FROM risk_decisions WHERE user_id = :user_id AND created_at_ns >= :since"
    " AND decision <> 'allow' GROUP BY decision"
)


@dataclass(frozen=True)
class ScreenResult:
    """The decision the caller acts on: ``deny`` moves nothing, ``review`` holds the reward."""

    outcome: ScreenOutcome
    score: int
    reasons: tuple[str, ...]
    strategy_version: str
    latency_us: int
    first: bool = True  # False: the event was screened before and this is the stored decision


def screen(conn: Connection, engine: RiskEngine, event: RiskEvent) -> ScreenResult:
    """Decide ``event`` and record the decision once (see the module docstring)."""
    started_ns = time.perf_counter_ns()
    activation, failed = _activation(conn, engine, event)
    live = engine.strategies.live()
    decision = evaluate(live, narrowed(live, activation))
    candidate = engine.strategies.shadow()
    shadow = None if candidate is None else evaluate(candidate, narrowed(candidate, activation))
    outcome = _ACTED[decision.outcome]
    reasons = decision.reasons + tuple(f"{FEATURE_ERROR}:{name}" for name in failed)
    if failed and SEVERITY[decision.outcome] < SEVERITY["review"]:
        outcome = "review"
    latency_us = (time.perf_counter_ns() - started_ns) // 1_000
    result = ScreenResult(outcome, decision.score, reasons, decision.version, latency_us)
    params = _row(event, result, shadow, activation, engine)
    if driver.scalar(conn, _RECORD, params) is not None:
        return result
    return _stored(conn, event.ref)


def observe(engine: RiskEngine, event: RiskEvent) -> None:
    """Feed an event that is not decided (a click, an install, a refund) into the velocity windows.
    A backend that fails is logged, never raised: the event's own path goes on."""
    try:
        engine.velocity.read_and_add(event)
    except Exception as exc:  # Redis down must not fail a click
        log.warning("risk_observe_failed", kind=event.kind, error=type(exc).__name__)


def _activation(conn: Connection, engine: RiskEngine, event: RiskEvent) -> tuple[dict[str, Any], list[str]]:
    """The event's activation with every catalogue field, and the names of the parts that failed."""
    values = engine.builder.event(event)
    failed: list[str] = []
    try:
        engine.builder.merge(values, engine.velocity.read_and_add(event), "velocity")
    except Exception as exc:  # fail safe: zeros, and the decision is at least review
        log.warning("risk_velocity_failed", error=type(exc).__name__)
        failed.append("velocity")
    engine.builder.merge(values, _history(conn, engine, event), "history")
    for source in engine.sources:
        name = type(source).__name__
        try:
            with driver.savepoint(conn):  # a failed read leaves the caller's transaction usable
                engine.builder.merge(values, source.read(conn, event), name)
        except Exception as exc:  # one source failing must not crash the caller
            log.warning("risk_feature_source_failed", source=name, error=type(exc).__name__)
            failed.append(name)
    return values, failed


def _history(conn: Connection, engine: RiskEngine, event: RiskEvent) -> dict[str, int]:
    """Account age and the user's decisions held or refused in the last 30 days."""
    user = _user_id(event)
    if user is None:
        return {}
    created = engine.account_created_at_ns(conn, user)
    age_s = 0 if created is None else max(0, (event.at_ns - created) // 10**9)
    params = {"user_id": user, "since": event.at_ns - PRIOR_WINDOW_NS}
    prior = {str(row[0]): int(row[1]) for row in driver.rows(conn, _PRIOR, params)}
    return {
        "account_age_s": age_s,
        "prior_reviews_30d": prior.get("review", 0),
        "prior_denies_30d": prior.get("deny", 0),
    }


def _user_id(event: RiskEvent) -> int | None:
    user = event.keys.get("user")
    return int(user) if user is not None and user.isdigit() else None


def _row(
    event: RiskEvent,
    result: ScreenResult,
    shadow: Decision | None,
    activation: dict[str, Any],
    engine: RiskEngine,
) -> dict[str, Any]:
    template = engine.builder.template
    compact = {name: value for name, value in activation.items() if value != template.get(name)}
    return {
        "event_ref": event.ref,
        "decision": result.outcome,
        "strategy_version": result.strategy_version[:40],
        "created_at_ns": event.at_ns,
        "kind": event.kind,
        "user_id": _user_id(event),
        "amount": event.amount,
        "currency": event.currency[:3],
        "score": result.score,
        "reasons": " ".join(result.reasons)[:REASONS_CHARS_MAX],
        "latency_us": result.latency_us,
        "activation": json.dumps(compact, separators=(",", ":"), sort_keys=True),
        "shadow_decision": None if shadow is None else _ACTED[shadow.outcome],
        "shadow_version": None if shadow is None else shadow.version[:40],
        "shadow_score": None if shadow is None else shadow.score,
        "shadow_reasons": None if shadow is None else " ".join(shadow.reasons)[:REASONS_CHARS_MAX],
    }


def _stored(conn: Connection, event_ref: str) -> ScreenResult:
    """The decision recorded first for ``event_ref`` (screened before: it stands)."""
    row = driver.first(conn, _RECORDED, {"event_ref": event_ref})
    assert row is not None, "a decision that conflicted on its ref exists"
    reasons = tuple(str(row.reasons).split()) if row.reasons else ()
    outcome: ScreenOutcome = row.decision
    return ScreenResult(
        outcome, int(row.score), reasons, str(row.strategy_version), int(row.latency_us), False
    )
