"""The seams of the risk engine: where a screening gets its strategies and its features from (issue 15).

Owns the protocols only. A :class:`StrategySource` hands out the live compiled strategy (and a shadow
candidate, when one runs beside it); a :class:`FeatureSource` adds its declared fields to an event's
activation (velocity windows, list membership, phone reputation, ...). The engine merges the fields of
every source into the catalogue rules are validated against.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import Connection

from earnloop.risk.events import RiskEvent
from earnloop.risk.rules import CompiledStrategy


class StrategySource(Protocol):
    def live(self) -> CompiledStrategy:
        """The strategy every event is decided by now."""
        ...

    def shadow(self) -> CompiledStrategy | None:
        """A candidate evaluated beside the live one on real traffic (its decision is stored, never
        acted on), or ``None``."""
        ...


class FeatureSource(Protocol):
    fields: Mapping[str, type]
    """The fields this source adds (name → bool, int, float or str); every one is present in what
    :meth:`read` returns, with a zero value when the event does not have it."""

    def read(self, conn: Connection, event: RiskEvent) -> dict[str, Any]:
        """The values of :attr:`fields` for ``event``, as of just before it (point in time)."""
        ...
