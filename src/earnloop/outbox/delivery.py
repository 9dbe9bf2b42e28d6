"""Webhook delivery (the worker side): fan events out to endpoints, then send them, signed, with retries.

* :func:`relay` turns new outbox events into ``webhook_deliveries`` (one per event and enabled endpoint
  of its partner). Idempotent: a UNIQUE (event, endpoint) and a cursor row that serialises relays.
* :func:`deliver_due` claims due deliveries (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write
  lock serialises), leases them, sends each OUTSIDE any transaction with a short timeout, then records
  the attempt: 2xx → delivered; otherwise retried with exponential backoff and jitter, dead after
  :data:`MAX_ATTEMPTS` (~25 hours). A worker that dies mid-send loses only its lease: the delivery is
  sent again later, and receivers dedupe by event id.
* Every send resolves the endpoint's host again and connects only to an address that passes the
  :class:`~earnloop.outbox.targets.TargetGuard` (ADR 0018); a refused target is a failed attempt with
  no status code. Redirects are never followed (a 3xx is a failed attempt).
"""

from __future__ import annotations

import json
import random
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import structlog
from sqlalchemy import Connection, and_, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from earnloop.db.engine import Database
from earnloop.outbox import service
from earnloop.outbox.models import (
    outbox_events,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_relay_cursor,
)
from earnloop.outbox.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header
from earnloop.outbox.targets import PinnedTarget, TargetGuard, TargetRefusedError
from earnloop.secretbox import SecretBox, process_box

log = structlog.get_logger("earnloop.webhooks")

NS = 1_000_000_000
MAX_ATTEMPTS = 15
BASE_DELAY_S = 30
MAX_DELAY_S = 4 * 3600
JITTER = 0.1
SEND_TIMEOUT_S = 10.0
CLAIM_BATCH = 20
RELAY_BATCH = 500
# An event is assumed visible to the relay once it is this old (no emitting transaction runs longer);
# the cursor never passes younger events, so an out-of-order commit is never skipped.
RELAY_SETTLE_S = 600
RESPONSE_READ_MAX = 64 * 1024
ERROR_MAX_LEN = 200
USER_AGENT = "earnloop-webhooks/1"


def retry_delay_s(attempts_made: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempts_made`` (1-based): 30 s doubling up to 4 h,
    times a ±10 % jitter. Fourteen waits between fifteen attempts span ~24 h."""
    base = min(BASE_DELAY_S * 2 ** (attempts_made - 1), MAX_DELAY_S)
    factor = rng.uniform(1 - JITTER, 1 + JITTER) if rng else random.uniform(1 - JITTER, 1 + JITTER)
    return float(base * factor)


def schedule_s() -> list[int]:
    """The nominal waits (no jitter) between the attempts."""
    return [min(BASE_DELAY_S * 2 ** (n - 1), MAX_DELAY_S) for n in range(1, MAX_ATTEMPTS)]


# -- relay ---------------------------------------------------------------------------------------------


def _lock_cursor(conn: Connection) -> int:
    cursor = webhook_relay_cursor
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(dialect_insert(cursor).values(id=1, last_seq=0).on_conflict_do_nothing())
    return int(conn.execute(select(cursor.c.last_seq).where(cursor.c.id == 1).with_for_update()).scalar_one())


def relay_batch(conn: Connection, now_ns: int, *, wall_now_ns: int, limit: int = RELAY_BATCH) -> int:
    """Create the missing deliveries of up to ``limit`` events after the cursor; advance the cursor when
    none is left. Returns how many deliveries it created."""
    last_seq = _lock_cursor(conn)
    e, ep, d = outbox_events, webhook_endpoints, webhook_deliveries
    rows = conn.execute(
        select(e.c.seq, e.c.event_id, e.c.partner_id, ep.c.id.label("endpoint_id"))
        .join(
            ep,
            and_(
                ep.c.partner_id == e.c.partner_id,
                ep.c.enabled.is_(True),
                e.c.created_at_ns >= ep.c.active_since_ns,
            ),
        )
        .where(e.c.seq > last_seq)
        .where(~exists().where(d.c.event_seq == e.c.seq, d.c.endpoint_id == ep.c.id))
        .order_by(e.c.seq)
        .limit(limit)
    ).all()
    if rows:
        conn.execute(
            insert(d),
            [
                service.new_delivery_values(r.seq, r.event_id, r.partner_id, r.endpoint_id, now_ns)
                for r in rows
            ],
        )
    if len(rows) < limit:
        settled = conn.execute(
            select(func.max(e.c.seq)).where(
                e.c.seq > last_seq, e.c.created_at_ns <= wall_now_ns - RELAY_SETTLE_S * NS
            )
        ).scalar_one_or_none()
        if settled is not None:
            conn.execute(
                update(webhook_relay_cursor).where(webhook_relay_cursor.c.id == 1).values(last_seq=settled)
            )
    return len(rows)


def relay(db: Database, now_ns: int, *, wall_now_ns: int | None = None) -> int:
    """Fan every new outbox event out to its partner's enabled endpoint; returns deliveries created."""
    total = 0
    while True:
        with db.uow() as conn:
            created = relay_batch(conn, now_ns, wall_now_ns=wall_now_ns or time.time_ns())
        total += created
        if created < RELAY_BATCH:
            return total


# -- sending -------------------------------------------------------------------------------------------


class Sender(Protocol):
    def __call__(
        self, target: PinnedTarget, body: bytes, headers: Mapping[str, str], timeout_s: float
    ) -> int:
        """POST ``body`` to ``target.connect_url`` (the checked address) as ``target.host_header``;
        return the HTTP status; raise on a transport error or timeout."""
        ...


class HttpxSender:
    """The default sender: connects to the pinned address (``Host`` and TLS SNI/certificate check use
    the registered name), no redirects, no proxies from the environment, no kept-alive connections
    (a pooled connection is keyed by address and could carry another name's TLS session), response
    body read up to 64 KiB."""

    def __init__(self) -> None:
        self._client = httpx.Client(
            follow_redirects=False, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0)
        )

    def __call__(
        self, target: PinnedTarget, body: bytes, headers: Mapping[str, str], timeout_s: float
    ) -> int:
        extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
        with self._client.stream(
            "POST",
            target.connect_url,
            content=body,
            headers={**headers, "Host": target.host_header},
            timeout=timeout_s,
            extensions=extensions,
        ) as response:
            read_bytes = 0
            for chunk in response.iter_raw():
                read_bytes += len(chunk)
                if read_bytes >= RESPONSE_READ_MAX:
                    break
            return response.status_code

    def close(self) -> None:
        self._client.close()


@contextmanager
def _default_sender(sender: Sender | None) -> Iterator[Sender]:
    if sender is not None:
        yield sender
        return
    own = HttpxSender()
    try:
        yield own
    finally:
        own.close()


def event_body(event_id: str, topic: str, created_at_ns: int, payload: str) -> bytes:
    """The JSON document sent (and signed): ``{id, topic, created_at, data}``."""
    created_at = datetime.fromtimestamp(created_at_ns // NS, tz=UTC).replace(
        microsecond=(created_at_ns % NS) // 1000
    )
    document = {
        "id": event_id,
        "topic": topic,
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
        "data": json.loads(payload),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Claim:
    delivery_id: int
    lease_token: str
    attempt_no: int
    url: str
    event_id: str
    body: bytes
    secrets: tuple[str, ...]

    def __repr__(self) -> str:  # never print the secrets
        return f"Claim(delivery_id={self.delivery_id}, event_id={self.event_id!r}, attempt={self.attempt_no})"


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class DeliveryReport:
    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0


def claim_due(
    conn: Connection, now_ns: int, *, limit: int, lease_s: float, box: SecretBox | None = None
) -> list[Claim]:
    """Lease up to ``limit`` due deliveries of enabled endpoints (other workers skip them)."""
    d, ep, e = webhook_deliveries, webhook_endpoints, outbox_events
    ids = list(
        conn.execute(
            select(d.c.id)
            .join(ep, ep.c.id == d.c.endpoint_id)
            .where(d.c.state == "pending", d.c.next_attempt_at_ns <= now_ns, ep.c.enabled.is_(True))
            .order_by(d.c.next_attempt_at_ns, d.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=d)
        ).scalars()
    )
    if not ids:
        return []
    rows = conn.execute(
        select(d.c.id, d.c.attempts, d.c.partner_id, ep.c.url, e.c.event_id, e.c.topic, e.c.created_at_ns)
        .add_columns(e.c.payload)
        .join(ep, ep.c.id == d.c.endpoint_id)
        .join(e, e.c.seq == d.c.event_seq)
        .where(d.c.id.in_(ids))
        .order_by(d.c.next_attempt_at_ns, d.c.id)
    ).all()
    lease_until = now_ns + int(lease_s * NS)
    secrets_by_partner: dict[int, tuple[str, ...]] = {}
    claims = []
    for row in rows:
        token = secrets.token_hex(16)
        conn.execute(
            update(d)
            .where(d.c.id == row.id)
            .values(lease_token=token, next_attempt_at_ns=lease_until, updated_at_ns=now_ns)
        )
        if row.partner_id not in secrets_by_partner:
            secrets_by_partner[row.partner_id] = tuple(
                service.active_secrets(conn, row.partner_id, now_ns, box=box)
            )
        claims.append(
            Claim(
                delivery_id=row.id,
                lease_token=token,
                attempt_no=row.attempts + 1,
                url=row.url,
                event_id=row.event_id,
                body=event_body(row.event_id, row.topic, row.created_at_ns, row.payload),
                secrets=secrets_by_partner[row.partner_id],
            )
        )
    return claims


def _describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timeout"
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:ERROR_MAX_LEN]


def send(
    claim: Claim,
    sender: Sender,
    *,
    guard: TargetGuard,
    timeout_s: float,
    wall_time: Callable[[], float],
) -> Outcome:
    """Check the target now (resolve, every address public unless allowed), sign with every active
    secret at the moment of sending, POST to the checked address, and time it. Never raises."""
    started = time.perf_counter()
    status: int | None = None
    try:
        target = guard.pin(claim.url)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_ID_HEADER: claim.event_id,
            SIGNATURE_HEADER: signature_header(claim.secrets, int(wall_time()), claim.body),
        }
        status = sender(target, claim.body, headers, timeout_s)
        error = "redirect not followed" if 300 <= status < 400 else None
    except TargetRefusedError as exc:
        error = str(exc)[:ERROR_MAX_LEN]
    except Exception as exc:  # any failure is a failed attempt, recorded
        error = _describe(exc)
    return Outcome(status, error, int((time.perf_counter() - started) * 1000))


def record(
    conn: Connection, claim: Claim, outcome: Outcome, now_ns: int, rng: random.Random | None = None
) -> str:
    """Record the attempt and move the delivery on; returns its new state ("superseded" when a replay
    or another worker took the lease meanwhile: the attempt is recorded, the delivery left alone)."""
    conn.execute(
        insert(webhook_attempts).values(
            delivery_id=claim.delivery_id,
            attempt_no=claim.attempt_no,
            at_ns=now_ns,
            status_code=outcome.status_code,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
    )
    values: dict[str, Any] = {
        "attempts": claim.attempt_no,
        "lease_token": None,
        "last_attempt_at_ns": now_ns,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "updated_at_ns": now_ns,
    }
    if outcome.ok:
        state = "delivered"
        values["delivered_at_ns"] = now_ns
    elif claim.attempt_no >= MAX_ATTEMPTS:
        state = "dead"
    else:
        state = "pending"
        values["next_attempt_at_ns"] = now_ns + int(retry_delay_s(claim.attempt_no, rng) * NS)
    d = webhook_deliveries
    changed = conn.execute(
        update(d)
        .where(d.c.id == claim.delivery_id, d.c.lease_token == claim.lease_token, d.c.state == "pending")
        .values(state=state, **values)
    ).rowcount
    return state if changed == 1 else "superseded"


def deliver_due(
    db: Database,
    now_ns: int,
    sender: Sender | None = None,
    *,
    guard: TargetGuard,
    box: SecretBox | None = None,
    timeout_s: float = SEND_TIMEOUT_S,
    batch_size: int = CLAIM_BATCH,
    max_batches: int = 50,
    rng: random.Random | None = None,
    wall_time: Callable[[], float] = time.time,
) -> DeliveryReport:
    """Send every delivery due at ``now_ns`` (scheduling time); signatures carry ``wall_time()`` (the
    real moment of sending, which receivers check). ``guard`` decides which addresses may be
    contacted; ``box`` opens the signing secrets. Safe to run in several workers at once."""
    box = box or process_box()
    report = DeliveryReport()
    lease_s = batch_size * (timeout_s + 1) + 60
    with _default_sender(sender) as send_with:
        for _ in range(max_batches):
            with db.uow() as conn:
                claims = claim_due(conn, now_ns, limit=batch_size, lease_s=lease_s, box=box)
            for claim in claims:
                outcome = send(claim, send_with, guard=guard, timeout_s=timeout_s, wall_time=wall_time)
                with db.uow() as conn:
                    state = record(conn, claim, outcome, now_ns, rng)
                _count(report, claim, outcome, state)
            if len(claims) < batch_size:
                break
    return report


def _count(report: DeliveryReport, claim: Claim, outcome: Outcome, state: str) -> None:
    report.attempted += 1
    if state == "delivered":
        report.delivered += 1
    elif state == "dead":
        report.dead += 1
        log.warning("webhook_dead", delivery_id=claim.delivery_id, event_id=claim.event_id)
    elif state == "pending":
        report.retrying += 1
    log.info(
        "webhook_attempt",
        delivery_id=claim.delivery_id,
        event_id=claim.event_id,
        attempt=claim.attempt_no,
        status_code=outcome.status_code,
        error=outcome.error,
        duration_ms=outcome.duration_ms,
        state=state,
    )
