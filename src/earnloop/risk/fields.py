"""The field catalogue rules are validated against, and the activation built once per event with every
catalogue field present (issue 15, ADR 0024).

Owns :data:`EVENT_FIELDS` (the event itself), :data:`ATTR_FIELDS` (the attributes the earn paths set on
their events), :data:`HISTORY_FIELDS` (account age and the user's prior decisions, computed by the
engine), :func:`catalogue` (those plus the velocity features and every registered ``FeatureSource``'s
fields) and :class:`ActivationBuilder` (a template of zero values, copied and filled per event: CEL never
sees a missing field, and an absent value reads as the type's zero).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from earnloop.risk.events import ENTITY_KEYS, RiskEvent
from earnloop.risk.rules import ZEROS
from earnloop.risk.sources import FeatureSource
from earnloop.risk.velocity import VelocitySpec

log = structlog.get_logger("earnloop.risk")

KEY_PREFIX = "key_"
# The event: its kind, the money it moves and its entity keys (``key_user``, ``key_device``, ...).
EVENT_FIELDS: dict[str, type] = {
    "kind": str,
    "amount": int,
    "currency": str,
    **{f"{KEY_PREFIX}{key}": str for key in ENTITY_KEYS},
}
# What the earn paths know about their events (``RiskEvent.attrs``); absent attributes read as zero.
ATTR_FIELDS: dict[str, type] = {
    "click_to_event_s": int,  # seconds from the recorded click to this event (milestones, conversions)
    "has_click_time": bool,  # click_to_event_s is known (a click was recorded)
    "milestone_position": int,  # the milestone's order in its game (1 = the first)
    "emulator": bool,  # the click's user agent is an emulator's / a headless browser's
    "user_agent": str,
    "share_of_balance_bps": int,  # a withdrawal's share of the available balance, in basis points
    "destination_age_s": int,  # a withdrawal's: seconds since its payout destination was added
    "other_destinations": int,  # withdrawal, account change: the user's payout destinations added before
}
# Computed by the engine from what the platform knows (the user's account and earlier decisions).
HISTORY_FIELDS: dict[str, type] = {
    "account_age_s": int,  # seconds since the user's account was opened (0 when no user)
    "prior_reviews_30d": int,  # the user's events decided review in the last 30 days
    "prior_denies_30d": int,  # ... decided deny
}


def catalogue(specs: Sequence[VelocitySpec] = (), sources: Sequence[FeatureSource] = ()) -> dict[str, type]:
    """Every field a rule may read: the event, its attributes, its history, the velocity features and the
    fields of each feature source. Raises ``ValueError`` when two of them claim the same name."""
    fields: dict[str, type] = {}
    parts: list[Mapping[str, type]] = [EVENT_FIELDS, ATTR_FIELDS, HISTORY_FIELDS]
    parts.append({spec.name: int for spec in specs})
    parts.extend(source.fields for source in sources)
    for part in parts:
        for name, kind in part.items():
            if name in fields:
                raise ValueError(f"field {name!r} is declared twice in the risk catalogue")
            fields[name] = kind
    return fields


class ActivationBuilder:
    """Builds an event's activation: a copy of the catalogue's zero values, filled with what is known."""

    def __init__(self, fields: Mapping[str, type]) -> None:
        self.fields = dict(fields)
        self.template = {name: ZEROS[kind] for name, kind in fields.items()}

    def event(self, event: RiskEvent) -> dict[str, Any]:
        """The activation's event part: its own fields and its attributes (an attribute outside the
        catalogue, or of another type, is left out and logged: a caller's mistake must not crash it)."""
        values = self.template.copy()
        values["kind"] = event.kind
        values["amount"] = event.amount
        values["currency"] = event.currency
        for key, value in event.keys.items():
            values[KEY_PREFIX + key] = value
        for name, attr in event.attrs.items():
            if type(attr) is self.fields.get(name) and name in ATTR_FIELDS:
                values[name] = attr
            else:
                log.warning("risk_attr_ignored", attr=name, kind=event.kind)
        return values

    def merge(self, values: dict[str, Any], extra: Mapping[str, Any], source: str) -> None:
        """Add a feature source's (or the velocity backend's) values, keeping only declared fields of the
        declared type."""
        for name, value in extra.items():
            if name in self.fields and type(value) is self.fields[name]:
                values[name] = value
            else:
                log.warning("risk_feature_ignored", feature=name, source=source)
