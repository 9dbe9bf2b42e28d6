"""Write outbox events inside the caller's transaction. Delivery happens after commit (worker)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from sqlalchemy import Connection, insert

from earnloop.outbox.models import outbox_events

TOPICS = frozenset(
    {
        "payment.succeeded",
        "payment.refunded",
        "escrow.state_changed",
        "hold.captured",
        "hold.released",
        "donation.received",
        "withdrawal.succeeded",
        "withdrawal.failed",
        "cashback.confirmed",
        "cashback.reversed",
    }
)


def emit(conn: Connection, *, topic: str, payload: dict[str, Any], partner_id: int | None = None) -> str:
    """Record an event for delivery after commit; returns its id (stable across delivery retries)."""
    if topic not in TOPICS:
        raise ValueError(f"unknown outbox topic {topic!r}")
    event_id = "evt_" + uuid.uuid4().hex
    conn.execute(
        insert(outbox_events).values(
            event_id=event_id,
            partner_id=partner_id,
            topic=topic,
            payload=json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str),
            created_at_ns=time.time_ns(),
        )
    )
    return event_id
