"""Typed risk events: what every screened money event (and the events around it) looks like to the risk
engine — its kind, a unique reference, when it happened, the money it moves and its entity keys (issue 15).

Owns :class:`RiskEvent`, the event kinds and the entity key names. Every part of the engine (velocity
features, lists, phone reputation, strategies, backtests, the simulator) speaks in these names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

EventKind = Literal[
    "click",
    "install",
    "milestone",
    "conversion",
    "einvoice_receipt",
    "login",
    "payment",
    "withdrawal",
    "paycode_use",
    "account_change",
    "refund",
]
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)
# The entities an event can be keyed by: velocity windows, lists and feeds count per one of these.
EntityKey = Literal["user", "device", "ip", "ip24", "card", "carrier", "payee", "partner", "offer", "phone"]
ENTITY_KEYS: tuple[EntityKey, ...] = get_args(EntityKey)
AttrValue = bool | int | float | str


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """One event as the engine sees it. ``ref`` is unique per event (the decision is recorded once per
    ref); ``amount`` is in integer minor units of ``currency`` (0 when no money moves); ``keys`` holds
    the entity keys the event has (absent keys are unknown, never empty strings); ``attrs`` holds the
    event's own typed facts a rule may read (e.g. seconds from click to this event)."""

    kind: EventKind
    ref: str
    at_ns: int
    amount: int = 0
    currency: str = ""
    keys: Mapping[EntityKey, str] = field(default_factory=dict)
    attrs: Mapping[str, AttrValue] = field(default_factory=dict)
