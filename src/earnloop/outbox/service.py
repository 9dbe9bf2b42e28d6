"""Write outbox events inside the caller's transaction. Delivery happens after commit (worker)."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from earnloop.auth import service as auth
from earnloop.db import driver
from earnloop.outbox.errors import (
    InvalidWebhookRequestError,
    WebhookConflictError,
    WebhookNotFoundError,
)
from earnloop.outbox.models import (
    DELIVERY_STATES,
    outbox_events,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_secrets,
)
from earnloop.outbox.targets import URL_MAX_LEN as URL_MAX_LEN  # the URL rules live in outbox.targets
from earnloop.outbox.targets import CheckedUrl
from earnloop.outbox.targets import validate_url as validate_url
from earnloop.secretbox import SecretBox, process_box

TOPICS = frozenset(
    {
        "payment.succeeded",
        "payment.refunded",
        "escrow.state_changed",
        "hold.approved",
        "hold.declined",
        "hold.captured",
        "hold.released",
        "donation.received",
        "withdrawal.succeeded",
        "withdrawal.failed",
        "cashback.confirmed",
        "cashback.reversed",
    }
)

# Every payment, refund and confirmed cashback emits one: built once, run on the driver (ADR 0011).
_INSERT_EVENT = insert(outbox_events)


def emit(conn: Connection, *, topic: str, payload: dict[str, Any], partner_id: int | None = None) -> str:
    """Record an event for delivery after commit; returns its id (stable across delivery retries)."""
    if topic not in TOPICS:
        raise ValueError(f"unknown outbox topic {topic!r}")
    event_id = "evt_" + uuid.uuid4().hex
    values = {
        "event_id": event_id,
        "partner_id": partner_id,
        "topic": topic,
        "payload": json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str),
        "created_at_ns": time.time_ns(),
    }
    driver.execute(conn, _INSERT_EVENT, values)
    return event_id


# -- webhooks: endpoints, secrets, deliveries, replay --------------------------------------------------
# The relay and the sender live in ``outbox.delivery``; these run inside the caller's unit of work.

SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix, not a secret)
DEFAULT_GRACE_S = 24 * 3600
GRACE_MAX_S = 7 * 24 * 3600
LIST_MAX = 200


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _active(now_ns: int) -> ColumnElement[bool]:
    return or_(webhook_secrets.c.expires_at_ns.is_(None), webhook_secrets.c.expires_at_ns > now_ns)


def active_secrets(
    conn: Connection, partner_id: int, now_ns: int, *, box: SecretBox | None = None
) -> list[str]:
    """The partner's active signing secrets, newest first (two during a rotation's grace period),
    opened with ``box`` (default: the process's, :func:`earnloop.secretbox.process_box`)."""
    box = box or process_box()
    rows = conn.execute(
        select(webhook_secrets.c.secret)
        .where(webhook_secrets.c.partner_id == partner_id, _active(now_ns))
        .order_by(webhook_secrets.c.id.desc())
        .limit(2)
    )
    return [box.open(row.secret) for row in rows]


def _secret_views(conn: Connection, partner_id: int, now_ns: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(webhook_secrets.c.id, webhook_secrets.c.created_at_ns, webhook_secrets.c.expires_at_ns)
        .where(webhook_secrets.c.partner_id == partner_id, _active(now_ns))
        .order_by(webhook_secrets.c.id.desc())
    )
    return [
        {"secret_id": r.id, "created_at_ns": r.created_at_ns, "expires_at_ns": r.expires_at_ns} for r in rows
    ]


def _insert_secret(conn: Connection, partner_id: int, now_ns: int, box: SecretBox) -> tuple[int, str]:
    secret = _new_secret()
    secret_id = conn.execute(
        insert(webhook_secrets)
        .values(partner_id=partner_id, secret=box.seal(secret), created_at_ns=now_ns, expires_at_ns=None)
        .returning(webhook_secrets.c.id)
    ).scalar_one()
    return int(secret_id), secret


def _locked_endpoint(conn: Connection, partner_id: int) -> Any:
    return conn.execute(
        select(webhook_endpoints).where(webhook_endpoints.c.partner_id == partner_id).with_for_update()
    ).first()


def get_endpoint(conn: Connection, partner_id: int, now_ns: int) -> dict[str, Any]:
    """The partner's endpoint and its active secrets' metadata (never the secrets)."""
    row = conn.execute(select(webhook_endpoints).where(webhook_endpoints.c.partner_id == partner_id)).first()
    if row is None:
        raise WebhookNotFoundError(f"partner {partner_id} has no webhook endpoint")
    return {
        "endpoint_id": row.id,
        "partner_id": row.partner_id,
        "url": row.url,
        "enabled": row.enabled,
        "created_at_ns": row.created_at_ns,
        "updated_at_ns": row.updated_at_ns,
        "secrets": _secret_views(conn, partner_id, now_ns),
    }


def set_endpoint(
    conn: Connection,
    partner_id: int,
    target: CheckedUrl,
    *,
    enabled: bool = True,
    now_ns: int,
    box: SecretBox | None = None,
) -> tuple[dict[str, Any], str | None]:
    """Create or update the partner's endpoint. Returns it and, when it had no active secret, the new
    signing secret (shown this once, stored sealed). ``target`` comes from ``TargetGuard.check``, run
    before the transaction (it may resolve a name)."""
    box = box or process_box()
    url = target.url
    if auth.get_partner(conn, partner_id) is None:
        raise WebhookNotFoundError(f"partner {partner_id} does not exist")
    wall = time.time_ns()
    row = _locked_endpoint(conn, partner_id)
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(webhook_endpoints).values(
                        partner_id=partner_id,
                        url=url,
                        enabled=enabled,
                        active_since_ns=wall,
                        created_at_ns=now_ns,
                        updated_at_ns=now_ns,
                    )
                )
        except IntegrityError as exc:
            raise WebhookConflictError("the endpoint is being created concurrently; retry") from exc
    else:
        values: dict[str, Any] = {"url": url, "enabled": enabled, "updated_at_ns": now_ns}
        if enabled and not row.enabled:
            values["active_since_ns"] = wall  # events emitted while disabled are not delivered
        conn.execute(update(webhook_endpoints).where(webhook_endpoints.c.id == row.id).values(**values))
    secret = None
    if not _secret_views(conn, partner_id, now_ns):
        _, secret = _insert_secret(conn, partner_id, now_ns, box)
    return get_endpoint(conn, partner_id, now_ns), secret


def rotate_secret(
    conn: Connection,
    partner_id: int,
    *,
    now_ns: int,
    grace_s: int = DEFAULT_GRACE_S,
    box: SecretBox | None = None,
) -> dict[str, Any]:
    """A new signing secret (returned this once); the previous one stays valid for ``grace_s`` seconds,
    any older one expires now, so at most two are active."""
    if not 0 <= grace_s <= GRACE_MAX_S:
        raise InvalidWebhookRequestError(f"grace_seconds must be 0–{GRACE_MAX_S}")
    if _locked_endpoint(conn, partner_id) is None:
        raise WebhookConflictError(f"partner {partner_id} has no webhook endpoint: set one first")
    active = conn.execute(
        select(webhook_secrets.c.id, webhook_secrets.c.expires_at_ns)
        .where(webhook_secrets.c.partner_id == partner_id, _active(now_ns))
        .order_by(webhook_secrets.c.id.desc())
    ).all()
    previous_expires_at = None
    if active:
        newest, older = active[0], [r.id for r in active[1:]]
        previous_expires_at = now_ns + grace_s * 1_000_000_000
        if newest.expires_at_ns is not None:
            previous_expires_at = min(previous_expires_at, newest.expires_at_ns)
        conn.execute(
            update(webhook_secrets)
            .where(webhook_secrets.c.id == newest.id)
            .values(expires_at_ns=previous_expires_at)
        )
        if older:
            conn.execute(
                update(webhook_secrets).where(webhook_secrets.c.id.in_(older)).values(expires_at_ns=now_ns)
            )
    secret_id, secret = _insert_secret(conn, partner_id, now_ns, box or process_box())
    return {
        "secret_id": secret_id,
        "secret": secret,
        "created_at_ns": now_ns,
        "previous_expires_at_ns": previous_expires_at,
    }


def _delivery_query() -> Select[Any]:
    d = webhook_deliveries
    return select(
        d.c.id,
        d.c.event_id,
        outbox_events.c.topic,
        d.c.partner_id,
        d.c.endpoint_id,
        d.c.state,
        d.c.attempts,
        d.c.next_attempt_at_ns,
        d.c.last_attempt_at_ns,
        d.c.last_status_code,
        d.c.last_error,
        d.c.delivered_at_ns,
        d.c.replays,
        d.c.created_at_ns,
    ).join(outbox_events, outbox_events.c.seq == d.c.event_seq)


def _delivery_view(row: Any) -> dict[str, Any]:
    view = dict(row._mapping)
    if view["state"] != "pending":
        view["next_attempt_at_ns"] = None
    return view


def list_deliveries(
    conn: Connection,
    *,
    partner_id: int | None = None,
    event_id: str | None = None,
    state: str | None = None,
    limit: int = 50,
    before_id: int = 0,
) -> list[dict[str, Any]]:
    """Newest first; page with ``before_id`` = the last delivery's id."""
    if state is not None and state not in DELIVERY_STATES:
        raise InvalidWebhookRequestError(f"state must be one of {', '.join(DELIVERY_STATES)}")
    d = webhook_deliveries
    query = _delivery_query().order_by(d.c.id.desc()).limit(max(1, min(limit, LIST_MAX)))
    if partner_id is not None:
        query = query.where(d.c.partner_id == partner_id)
    if event_id is not None:
        query = query.where(d.c.event_id == event_id)
    if state is not None:
        query = query.where(d.c.state == state)
    if before_id > 0:
        query = query.where(d.c.id < before_id)
    return [_delivery_view(row) for row in conn.execute(query)]


def list_attempts(
    conn: Connection, delivery_id: int, *, partner_id: int | None = None
) -> list[dict[str, Any]]:
    """Every attempt of a delivery, oldest first (a partner sees only its own deliveries)."""
    owner = conn.execute(
        select(webhook_deliveries.c.partner_id).where(webhook_deliveries.c.id == delivery_id)
    ).first()
    if owner is None or (partner_id is not None and owner.partner_id != partner_id):
        raise WebhookNotFoundError(f"no delivery {delivery_id}")
    a = webhook_attempts
    rows = conn.execute(
        select(a.c.attempt_no, a.c.at_ns, a.c.status_code, a.c.error, a.c.duration_ms)
        .where(a.c.delivery_id == delivery_id)
        .order_by(a.c.id)
    )
    return [dict(row._mapping) for row in rows]


def new_delivery_values(
    event_seq: int, event_id: str, partner_id: int, endpoint_id: int, now_ns: int
) -> dict[str, Any]:
    return {
        "event_seq": event_seq,
        "event_id": event_id,
        "partner_id": partner_id,
        "endpoint_id": endpoint_id,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at_ns": now_ns,
        "replays": 0,
        "created_at_ns": now_ns,
        "updated_at_ns": now_ns,
    }


def replay(
    conn: Connection, event_id: str, *, now_ns: int, partner_id: int | None = None
) -> list[dict[str, Any]]:
    """Queue an event for delivery again, due now (receivers dedupe by event id). Creates the delivery
    when the event has none yet (e.g. emitted before the endpoint existed)."""
    event = conn.execute(select(outbox_events).where(outbox_events.c.event_id == event_id)).first()
    if event is None or (partner_id is not None and event.partner_id != partner_id):
        raise WebhookNotFoundError(f"no event {event_id!r}")
    d = webhook_deliveries
    existing = conn.execute(select(d.c.id).where(d.c.event_seq == event.seq).with_for_update()).all()
    if existing:
        conn.execute(
            update(d)
            .where(d.c.event_seq == event.seq)
            .values(
                state="pending",
                attempts=0,
                next_attempt_at_ns=now_ns,
                lease_token=None,
                replays=d.c.replays + 1,
                updated_at_ns=now_ns,
            )
        )
    else:
        endpoint = None
        if event.partner_id is not None:
            endpoint = conn.execute(
                select(webhook_endpoints.c.id).where(
                    webhook_endpoints.c.partner_id == event.partner_id, webhook_endpoints.c.enabled.is_(True)
                )
            ).first()
        if endpoint is None:
            raise WebhookConflictError(f"event {event_id!r} has no partner with an enabled webhook endpoint")
        values = new_delivery_values(event.seq, event.event_id, event.partner_id, endpoint.id, now_ns)
        conn.execute(insert(d).values({**values, "replays": 1}))
    return list_deliveries(conn, event_id=event_id)
