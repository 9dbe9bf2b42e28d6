"""Reading the risk decision log: the decisions recorded for given event references (what an evaluation
or a review joins its own records to). Writing stays in :mod:`earnloop.risk.screening`."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from earnloop.risk.models import risk_decisions

REFS_PER_QUERY = 500  # bound on an IN list


def decisions_by_ref(conn: Connection, refs: Iterable[str]) -> dict[str, str]:
    """The recorded decision (``allow``, ``review``, ``deny``, ...) of every event in ``refs`` that was
    screened; events never screened are absent."""
    wanted = sorted(set(refs))
    found: dict[str, str] = {}
    for first in range(0, len(wanted), REFS_PER_QUERY):
        chunk = wanted[first : first + REFS_PER_QUERY]
        query = select(risk_decisions.c.event_ref, risk_decisions.c.decision).where(
            risk_decisions.c.event_ref.in_(chunk)
        )
        found.update({str(row.event_ref): str(row.decision) for row in conn.execute(query)})
    return found
