"""Reading the decision log back: explain one stored decision step by step (under the strategy version
that made it, or any other), and compare the shadow candidate's decisions with the live ones (issue 15).

Owns :func:`explain_decision`, :func:`strategy_for_label` (a recorded strategy label back to its rules:
a stored version ``<name>-<n>`` or a built-in ``builtin.…``) and :func:`shadow_report`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, select

from earnloop.errors import DomainError
from earnloop.risk import default_strategy
from earnloop.risk.engine import ALLOW_ALL
from earnloop.risk.explain import as_dict, explain
from earnloop.risk.models import risk_decisions
from earnloop.risk.rules import CompiledStrategy, compile_strategy
from earnloop.risk.strategies.stored import compiled_version

_STORED_LABEL = re.compile(r"([a-z][a-z0-9_-]{0,31})-([1-9][0-9]{0,8})")
SAMPLE_MAX = 20


class DecisionNotFoundError(DomainError, LookupError):
    status = 404
    slug = "decision-not-found"
    title = "No decision for this event"


class UnknownStrategyLabelError(DomainError, ValueError):
    status = 422
    slug = "unknown-strategy-version"
    title = "Unknown strategy version"


def strategy_for_label(conn: Connection, label: str, fields: Mapping[str, type]) -> CompiledStrategy:
    """The compiled strategy a decision recorded as ``label``."""
    builtins = {default_strategy.VERSION: default_strategy.default_strategy(), ALLOW_ALL.version: ALLOW_ALL}
    if label in builtins:
        return compile_strategy(builtins[label], fields)
    found = _STORED_LABEL.fullmatch(label)
    if found is None:
        raise UnknownStrategyLabelError(
            f"{label!r} is neither a stored version (<name>-<n>) nor a built-in ({', '.join(builtins)})"
        )
    return compiled_version(conn, found[1], int(found[2]), fields)


def explain_decision(
    conn: Connection, event_ref: str, fields: Mapping[str, type], *, version: str | None = None
) -> dict[str, Any]:
    """The stored decision for ``event_ref`` and its replay, step by step, under the version that made
    it (or ``version``): which rules fired, the feature values they saw, each score contribution."""
    row = conn.execute(select(risk_decisions).where(risk_decisions.c.event_ref == event_ref)).first()
    if row is None:
        raise DecisionNotFoundError(f"no decision recorded for event {event_ref!r}")
    activation = json.loads(row.activation)
    if not activation:
        raise DecisionNotFoundError(f"the decision for {event_ref!r} predates stored activations")
    compiled = strategy_for_label(conn, version or row.strategy_version, fields)
    return {
        "event_ref": event_ref,
        "recorded": {
            "decision": row.decision,
            "strategy_version": row.strategy_version,
            "score": int(row.score),
            "reasons": row.reasons.split(),
            "latency_us": int(row.latency_us),
            "created_at_ns": int(row.created_at_ns),
        },
        "replay": as_dict(explain(compiled, activation)),
    }


def shadow_report(conn: Connection, *, since_ns: int = 0) -> dict[str, Any]:
    """How the shadow candidate's decisions compare with the live ones since ``since_ns``: counts per
    (live, shadow) pair, the share that agree, and the latest disagreements."""
    d = risk_decisions
    shadowed = (d.c.shadow_decision.is_not(None), d.c.created_at_ns >= since_ns)
    pairs = conn.execute(
        select(d.c.decision, d.c.shadow_decision, d.c.shadow_version, func.count())
        .where(*shadowed)
        .group_by(d.c.decision, d.c.shadow_decision, d.c.shadow_version)
    ).all()
    counts: Counter[tuple[str, str]] = Counter()
    versions: set[str] = set()
    for live, shadow, shadow_version, count in pairs:
        counts[(live, shadow)] += int(count)
        versions.add(shadow_version)
    total = sum(counts.values())
    agree = sum(count for (live, shadow), count in counts.items() if live == shadow)
    latest = conn.execute(
        select(d.c.event_ref, d.c.decision, d.c.shadow_decision, d.c.reasons, d.c.shadow_reasons)
        .where(*shadowed, d.c.decision != d.c.shadow_decision)
        .order_by(d.c.id.desc())
        .limit(SAMPLE_MAX)
    ).all()
    return {
        "events": total,
        "shadow_versions": sorted(versions),
        "agreement": round(agree / total, 4) if total else None,
        "pairs": [{"live": a, "shadow": b, "events": n} for (a, b), n in sorted(counts.items())],
        "latest_disagreements": [
            {
                "event_ref": r.event_ref,
                "live": r.decision,
                "shadow": r.shadow_decision,
                "live_reasons": r.reasons.split(),
                "shadow_reasons": (r.shadow_reasons or "").split(),
            }
            for r in latest
        ],
    }
