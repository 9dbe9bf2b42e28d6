"""Webhooks end to end: a real local receiver (uvicorn) that fails the first attempts still receives every
event exactly once by id, signed (verified with the sample verifier of docs/webhooks.md), through secret
rotation, replay, the dead end of the retry schedule and concurrent workers — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import func, select

from earnloop.auth import service as auth
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.outbox import delivery, service
from earnloop.outbox.errors import InvalidWebhookUrlError, WebhookConflictError, WebhookNotFoundError
from earnloop.outbox.models import webhook_attempts, webhook_deliveries, webhook_secrets
from earnloop.outbox.service import emit
from earnloop.outbox.targets import MemoryResolver, TargetGuard
from earnloop.outbox.verify import WebhookVerificationError, verify_webhook
from tests.conftest import Cli
from tests.integration.test_ledger_http_cli import one_error_line
from tests.live_server import serve

TIMEOUT_S = 0.3
NS = 1_000_000_000
# The receivers listen on 127.0.0.1: private targets are allowed explicitly (tests/integration/security
# proves they are refused otherwise).
LOCAL = TargetGuard(allow_private=True)
Plan = Callable[[str, int], str]  # (event id, attempt number at the receiver) → "ok" | "500" | "timeout"


def always_ok(_event_id: str, _attempt: int) -> str:
    return "ok"


@dataclass
class Receiver:
    """A partner's endpoint: answers per ``plan``, verifies signatures, dedupes by event id."""

    secrets: list[str]
    plan: Plan = always_ok
    lock: threading.Lock = field(default_factory=threading.Lock)
    attempts: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)  # 2xx answers per event id
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)  # deduped by id
    raw: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    bad_signatures: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            headers = {k.lower(): v for k, v in request.headers.items()}
            event_id = headers.get("earnloop-event-id", "")
            with self.lock:
                self.raw.append((headers, body))
                self.attempts[event_id] += 1
                action = self.plan(event_id, self.attempts[event_id])
            if action == "timeout":
                await asyncio.sleep(TIMEOUT_S * 4)
                return Response(status_code=500)
            if action != "ok":
                return Response(status_code=int(action))
            try:
                verify_webhook(body, headers.get("earnloop-signature", ""), self.secrets)
            except WebhookVerificationError:
                with self.lock:
                    self.bad_signatures += 1
                return Response(status_code=400)
            event = json.loads(body)
            with self.lock:
                assert event["id"] == event_id
                self.accepted[event_id] += 1
                self.processed.setdefault(event_id, event)  # dedupe by id
            return Response(status_code=204)

        return app


@contextmanager
def receiving(receiver: Receiver) -> Iterator[str]:
    with serve(receiver.app()) as base_url:
        yield base_url + "/hook"


def partner_with_endpoint(db: Database, name: str, url: str, now_ns: int) -> tuple[int, str]:
    with db.uow() as conn:
        partner = auth.create_partner(conn, name, "merchant", "TWD")
        _, secret = service.set_endpoint(conn, partner.id, LOCAL.check(url), now_ns=now_ns)
    assert secret is not None
    assert secret.startswith("whsec_")
    return partner.id, secret


def emit_events(db: Database, partner_id: int | None, count: int) -> list[str]:
    topics = ["payment.succeeded", "payment.refunded", "escrow.state_changed", "withdrawal.succeeded"]
    with db.uow() as conn:
        return [
            emit(
                conn,
                topic=topics[i % len(topics)],
                payload={"n": i, "amount": 100 + i},
                partner_id=partner_id,
            )
            for i in range(count)
        ]


def pump(db: Database, clock: ManualClock, *, rounds: int, step_s: int = 5 * 3600) -> None:
    """What the worker does, with the clock jumping past every retry delay between rounds."""
    for _ in range(rounds):
        delivery.relay(db, clock.now_ns())
        delivery.deliver_due(db, clock.now_ns(), timeout_s=TIMEOUT_S, guard=LOCAL)
        clock.advance(seconds=step_s)


def deliveries(db: Database) -> dict[str, Any]:
    with db.uow(write=False) as conn:
        return {r.event_id: r for r in conn.execute(select(webhook_deliveries))}


def attempts_of(db: Database, delivery_id: int) -> list[Any]:
    with db.uow(write=False) as conn:
        return list(
            conn.execute(
                select(webhook_attempts)
                .where(webhook_attempts.c.delivery_id == delivery_id)
                .order_by(webhook_attempts.c.id)
            )
        )


def test_failing_receiver_gets_every_event_exactly_once_signed(db: Database, clock: ManualClock) -> None:
    first: list[str] = []

    def plan(event_id: str, attempt: int) -> str:
        if attempt == 1:
            return "500"
        if attempt == 2:
            return "timeout" if event_id == first[0] else "503"
        return "ok"

    receiver = Receiver(secrets=[], plan=plan)
    with receiving(receiver) as url:
        partner_id, secret = partner_with_endpoint(db, "shop", url, clock.now_ns())
        receiver.secrets.append(secret)
        events = emit_events(db, partner_id, 5)
        first.append(events[0])
        other_partner = auth_partner(db, "no-endpoint")
        emit_events(db, other_partner, 2)  # a partner without endpoint: nothing to deliver
        emit_events(db, None, 1)  # no partner: nothing to deliver
        pump(db, clock, rounds=4)
        assert delivery.relay(db, clock.now_ns()) == 0  # idempotent fan-out
        assert delivery.deliver_due(db, clock.now_ns(), guard=LOCAL).attempted == 0

    assert set(receiver.processed) == set(events)
    assert receiver.accepted == Counter(dict.fromkeys(events, 1))  # exactly once by id
    assert receiver.attempts == Counter(dict.fromkeys(events, 3))
    assert receiver.bad_signatures == 0
    event = receiver.processed[events[1]]
    assert set(event) == {"id", "topic", "created_at", "data"}
    assert (event["topic"], event["data"]) == ("payment.refunded", {"amount": 101, "n": 1})
    assert event["created_at"].endswith("Z")
    rows = deliveries(db)
    assert set(rows) == set(events)
    assert all((r.state, r.attempts, r.last_status_code) == ("delivered", 3, 204) for r in rows.values())
    recorded = attempts_of(db, rows[events[0]].id)
    assert [(a.attempt_no, a.status_code, a.error) for a in recorded] == [
        (1, 500, None),
        (2, None, "timeout"),
        (3, 204, None),
    ]
    assert recorded[1].duration_ms >= TIMEOUT_S * 1000 * 0.9
    assert [a.status_code for a in attempts_of(db, rows[events[1]].id)] == [500, 503, 204]
    headers, _ = receiver.raw[0]
    assert headers["content-type"] == "application/json"
    assert headers["earnloop-signature"].startswith("t=")


def auth_partner(db: Database, name: str) -> int:
    with db.uow() as conn:
        return auth.create_partner(conn, name, "merchant", "TWD").id


def test_rotation_signs_with_both_secrets_until_the_grace_period_ends(
    db: Database, clock: ManualClock
) -> None:
    receiver = Receiver(secrets=[])
    with receiving(receiver) as url:
        partner_id, old = partner_with_endpoint(db, "rotating", url, clock.now_ns())
        with db.uow() as conn:
            rotated = service.rotate_secret(conn, partner_id, now_ns=clock.now_ns(), grace_s=3600)
        new = rotated["secret"]
        assert rotated["previous_expires_at_ns"] == clock.now_ns() + 3600 * NS
        receiver.secrets.extend([old, new])
        (during,) = emit_events(db, partner_id, 1)
        pump(db, clock, rounds=1, step_s=2 * 3600)  # past the grace period
        (after,) = emit_events(db, partner_id, 1)
        pump(db, clock, rounds=1)
        # Rotating twice within a grace period still leaves at most two active secrets.
        with db.uow() as conn:
            service.rotate_secret(conn, partner_id, now_ns=clock.now_ns())
            service.rotate_secret(conn, partner_id, now_ns=clock.now_ns())
            assert len(service.active_secrets(conn, partner_id, clock.now_ns())) == 2
            total = conn.execute(
                select(func.count())
                .select_from(webhook_secrets)
                .where(webhook_secrets.c.partner_id == partner_id)
            ).scalar_one()
    assert total == 4
    assert set(receiver.processed) == {during, after}
    by_id = {h["earnloop-event-id"]: (h["earnloop-signature"], body) for h, body in receiver.raw}
    header, body = by_id[during]
    assert header.count("v1=") == 2
    assert verify_webhook(body, header, old)  # either verifies
    assert verify_webhook(body, header, new)
    header, body = by_id[after]
    assert header.count("v1=") == 1
    assert verify_webhook(body, header, new)
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify_webhook(body, header, old)


def test_replay_redelivers_and_the_receiver_dedupes(db: Database, clock: ManualClock) -> None:
    receiver = Receiver(secrets=[])
    with receiving(receiver) as url:
        partner_id, secret = partner_with_endpoint(db, "replayed", url, clock.now_ns())
        receiver.secrets.append(secret)
        event_id, other = emit_events(db, partner_id, 2)
        pump(db, clock, rounds=1)
        with db.uow() as conn:
            (queued,) = service.replay(conn, event_id, now_ns=clock.now_ns())
        assert (queued["state"], queued["attempts"], queued["replays"]) == ("pending", 0, 1)
        pump(db, clock, rounds=1)
        with db.uow() as conn, pytest.raises(WebhookNotFoundError):
            service.replay(conn, "evt_unknown", now_ns=clock.now_ns())
        with db.uow() as conn, pytest.raises(WebhookNotFoundError):  # another partner's event
            service.replay(conn, event_id, now_ns=clock.now_ns(), partner_id=partner_id + 1)
    assert receiver.accepted == Counter({event_id: 2, other: 1})  # sent twice …
    assert set(receiver.processed) == {event_id, other}  # … processed once
    row = deliveries(db)[event_id]
    assert (row.state, row.attempts, row.replays) == ("delivered", 1, 1)
    assert len(attempts_of(db, row.id)) == 2  # the history keeps both


def test_replay_creates_a_delivery_for_an_event_older_than_the_endpoint(
    db: Database, clock: ManualClock
) -> None:
    partner_id = auth_partner(db, "late")
    (event_id,) = emit_events(db, partner_id, 1)
    with db.uow() as conn, pytest.raises(WebhookConflictError):
        service.replay(conn, event_id, now_ns=clock.now_ns())
    receiver = Receiver(secrets=[])
    with receiving(receiver) as url:
        with db.uow() as conn:
            _, secret = service.set_endpoint(conn, partner_id, LOCAL.check(url), now_ns=clock.now_ns())
        receiver.secrets.append(secret or "")
        pump(db, clock, rounds=1)
        assert receiver.processed == {}  # emitted before the endpoint existed: not fanned out
        with db.uow() as conn:
            service.replay(conn, event_id, now_ns=clock.now_ns())
        pump(db, clock, rounds=1)
    assert set(receiver.processed) == {event_id}


def test_dead_after_the_retry_schedule_then_revived_by_replay(db: Database, clock: ManualClock) -> None:
    receiver = Receiver(secrets=[], plan=lambda _e, _n: "500")
    with receiving(receiver) as url:
        partner_id, secret = partner_with_endpoint(db, "down", url, clock.now_ns())
        receiver.secrets.append(secret)
        (event_id,) = emit_events(db, partner_id, 1)
        delivery.relay(db, clock.now_ns())
        first_at = clock.now_ns()
        for attempt in range(1, delivery.MAX_ATTEMPTS + 1):
            report = delivery.deliver_due(db, clock.now_ns(), timeout_s=TIMEOUT_S, guard=LOCAL)
            assert report.attempted == 1
            row = deliveries(db)[event_id]
            assert row.attempts == attempt
            if attempt < delivery.MAX_ATTEMPTS:
                assert row.state == "pending"
                assert (
                    delivery.deliver_due(db, row.next_attempt_at_ns - 1, guard=LOCAL).attempted == 0
                )  # not yet due
                clock.advance(ns=row.next_attempt_at_ns - clock.now_ns())
        last_at = clock.now_ns()
        assert report.dead == 1
        clock.advance(seconds=30 * 86_400)
        assert delivery.deliver_due(db, clock.now_ns(), guard=LOCAL).attempted == 0
        row = deliveries(db)[event_id]
        assert (row.state, row.attempts, row.last_status_code) == ("dead", 15, 500)
        assert len(attempts_of(db, row.id)) == delivery.MAX_ATTEMPTS
        span_h = (last_at - first_at) / NS / 3600
        assert 22 <= span_h <= 27, span_h  # ~25 hours of retries
        receiver.plan = always_ok
        with db.uow() as conn:
            service.replay(conn, event_id, now_ns=clock.now_ns())
        assert delivery.deliver_due(db, clock.now_ns(), guard=LOCAL).delivered == 1
    assert deliveries(db)[event_id].state == "delivered"
    assert receiver.attempts[event_id] == delivery.MAX_ATTEMPTS + 1


def test_concurrent_workers_send_each_event_once(db: Database, clock: ManualClock) -> None:
    receiver = Receiver(secrets=[])
    with receiving(receiver) as url:
        partner_id, secret = partner_with_endpoint(db, "busy", url, clock.now_ns())
        receiver.secrets.append(secret)
        events = emit_events(db, partner_id, 30)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: delivery.relay(db, clock.now_ns()), range(4)))
            reports = list(
                pool.map(
                    lambda _: delivery.deliver_due(db, clock.now_ns(), batch_size=3, guard=LOCAL), range(4)
                )
            )
    assert sum(r.delivered for r in reports) == 30
    assert receiver.attempts == Counter(dict.fromkeys(events, 1))  # no event sent twice
    assert len(deliveries(db)) == 30


def test_a_disabled_endpoint_pauses_deliveries(db: Database, clock: ManualClock) -> None:
    receiver = Receiver(secrets=[])
    with receiving(receiver) as url:
        partner_id, secret = partner_with_endpoint(db, "paused", url, clock.now_ns())
        receiver.secrets.append(secret)
        (queued,) = emit_events(db, partner_id, 1)
        delivery.relay(db, clock.now_ns())
        with db.uow() as conn:
            _, again = service.set_endpoint(
                conn, partner_id, LOCAL.check(url), enabled=False, now_ns=clock.now_ns()
            )
        assert again is None  # the secret is shown once only
        emit_events(db, partner_id, 1)  # emitted while disabled: never fanned out
        pump(db, clock, rounds=1)
        assert receiver.attempts == Counter()
        with db.uow() as conn:
            service.set_endpoint(conn, partner_id, LOCAL.check(url), enabled=True, now_ns=clock.now_ns())
        pump(db, clock, rounds=1)
    assert set(receiver.processed) == {queued}


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "https://user:pw@example.com/hook",
        "https://token@example.com/hook",
        "https:///hook",
        "example.com/hook",
        "https://example.com/ho ok",
        "https://example.com:99999/",
        "https://example.com/#frag",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidWebhookUrlError):
        service.validate_url(url)


# -- HTTP ----------------------------------------------------------------------------------------------


def test_partner_and_admin_http_api(api: httpx.Client, db: Database, clock: ManualClock) -> None:
    created = api.post(
        "/v1/partners", json={"name": "acme", "kind": "merchant", "settlement_currency": "TWD"}
    )
    assert created.status_code == 201
    other = api.post("/v1/partners", json={"name": "other", "kind": "merchant", "settlement_currency": "TWD"})
    base = str(api.base_url)
    with (
        httpx.Client(base_url=base, headers={"X-Api-Key": created.json()["api_key"]}) as acme,
        httpx.Client(base_url=base, headers={"X-Api-Key": other.json()["api_key"]}) as stranger,
    ):
        assert acme.get("/v1/partner/webhook-endpoint").status_code == 404
        for bad in ("ftp://x.example/", "https://u:p@x.example/hook", "http://"):
            refused = acme.put("/v1/partner/webhook-endpoint", json={"url": bad})
            assert refused.status_code == 422, bad
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["type"].endswith("/invalid-webhook-url")
        assert acme.get("/v1/partner/webhook-endpoint").status_code == 404  # nothing changed
        assert acme.post("/v1/partner/webhook-secrets/rotate").status_code == 409
        first = acme.put("/v1/partner/webhook-endpoint", json={"url": "https://hooks.example/a"})
        assert first.status_code == 200
        secret = first.json()["secret"]
        assert secret.startswith("whsec_")
        second = acme.put("/v1/partner/webhook-endpoint", json={"url": "https://hooks.example/b"})
        assert second.json()["secret"] is None
        shown = acme.get("/v1/partner/webhook-endpoint").json()
        assert (shown["url"], shown["secret"]) == ("https://hooks.example/b", None)
        assert secret not in json.dumps(shown)
        rotated = acme.post("/v1/partner/webhook-secrets/rotate", json={"grace_seconds": 600})
        assert rotated.status_code == 201
        assert rotated.json()["secret"] not in {secret, None}
        assert len(acme.get("/v1/partner/webhook-endpoint").json()["active_secrets"]) == 2
        assert acme.post("/v1/partner/webhook-secrets/rotate", json={"grace_seconds": -1}).status_code == 422

        (event_id,) = emit_events(db, created.json()["partner_id"], 1)
        delivery.relay(db, clock.now_ns())
        public = MemoryResolver()
        public.set("hooks.example", "93.184.216.34")
        guard = TargetGuard(allow_private=False, resolver=public)
        delivery.deliver_due(db, clock.now_ns(), sender=lambda *_: 502, guard=guard)
        listed = acme.get("/v1/partner/webhook-deliveries").json()
        assert [(d["event_id"], d["state"], d["attempts"], d["last_status_code"]) for d in listed] == [
            (event_id, "pending", 1, 502)
        ]
        delivery_id = listed[0]["delivery_id"]
        attempts = acme.get(f"/v1/partner/webhook-deliveries/{delivery_id}/attempts").json()
        assert [(a["attempt_no"], a["status_code"]) for a in attempts] == [(1, 502)]
        assert stranger.get("/v1/partner/webhook-deliveries").json() == []
        assert stranger.get(f"/v1/partner/webhook-deliveries/{delivery_id}/attempts").status_code == 404
        assert stranger.post(f"/v1/partner/webhook-events/{event_id}/replay").status_code == 404
        assert acme.post(f"/v1/partner/webhook-events/{event_id}/replay").json()[0]["replays"] == 1

    assert (
        api.get("/v1/admin/webhooks/deliveries", params={"state": "pending"}).json()[0]["event_id"]
        == event_id
    )
    assert api.get("/v1/admin/webhooks/deliveries", params={"state": "bogus"}).status_code == 422
    assert len(api.get(f"/v1/admin/webhooks/deliveries/{delivery_id}/attempts").json()) == 1
    replayed = api.post(f"/v1/admin/webhooks/events/{event_id}/replay")
    assert (replayed.status_code, replayed.json()[0]["replays"]) == (200, 2)
    missing = api.post("/v1/admin/webhooks/events/evt_nope/replay")
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/not-found")
    no_key = httpx.get(base.rstrip("/") + "/v1/partner/webhook-deliveries")
    assert no_key.status_code == 401
    no_token = httpx.post(base.rstrip("/") + f"/v1/admin/webhooks/events/{event_id}/replay")
    assert no_token.status_code == 401


# -- CLI ----------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_sets_endpoint_and_replays(db: Database, cli: Cli) -> None:
    # Each invocation is a fresh Python process (seconds on a busy machine): three of them.
    partner_id = auth_partner(db, "acme")
    (event_id,) = emit_events(db, partner_id, 1)
    done = cli(
        "webhooks",
        "set-endpoint",
        str(partner_id),
        "http://127.0.0.1:9/hook",
        EARNLOOP_WEBHOOK_ALLOW_PRIVATE_TARGETS="true",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["secret"].startswith("whsec_")
    done = cli("webhooks", "replay", event_id)
    assert done.returncode == 0, done.stderr
    assert f"of {event_id} to endpoint" in done.stdout
    before = deliveries(db)
    assert "no event" in one_error_line(cli("webhooks", "replay", "evt_nope"))
    assert deliveries(db) == before
    (row,) = before.values()
    assert (row.event_id, row.state, row.replays) == (event_id, "pending", 1)
