"""SSRF through webhooks (issue 13, item 6), over real HTTP on SQLite and PostgreSQL: an endpoint on an
internal address is refused at registration; a name that was public at registration but resolves to
loopback at delivery is not contacted (a real local server proves no request arrived); a redirect is
not followed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.outbox import delivery
from earnloop.outbox.targets import MemoryResolver, TargetGuard
from tests.conftest import ADMIN_TOKEN, DbTarget
from tests.integration.test_webhooks import emit_events
from tests.live_server import client, serve

PUBLIC_IP = "93.184.216.34"


@dataclass
class Served:
    admin: httpx.Client
    resolver: MemoryResolver


@pytest.fixture
def served(db: Database, db_target: DbTarget, clock: ManualClock) -> Iterator[Served]:
    """The app with private targets NOT allowed (the default) and an in-memory resolver."""
    from earnloop.api.app import create_app

    resolver = MemoryResolver()
    resolver.set("intranet.example", "127.0.0.1")
    settings = Settings(database_url=db_target.url, admin_token=ADMIN_TOKEN)
    assert settings.webhook_allow_private_targets is False
    app = create_app(settings, db=db, clock=clock, webhook_resolver=resolver)
    with serve(app) as base_url, client(base_url, ADMIN_TOKEN) as http:
        yield Served(http, resolver)


def partner(admin: httpx.Client, name: str) -> tuple[httpx.Client, int]:
    created = admin.post(
        "/v1/partners", json={"name": name, "kind": "merchant", "settlement_currency": "TWD"}
    )
    assert created.status_code == 201
    body = created.json()
    return httpx.Client(base_url=str(admin.base_url), headers={"X-Api-Key": body["api_key"]}), body[
        "partner_id"
    ]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/hook",
        "https://192.168.1.1/hook",
        "http://172.16.0.1/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",
        "http://[fe80::1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 form of 169.254.169.254
        "http://[2002:7f00:1::]/hook",  # 6to4 form of 127.0.0.1
        "http://224.0.0.1/hook",
        "http://intranet.example/hook",  # a name resolving to loopback
    ],
)
def test_registration_refuses_internal_targets(served: Served, url: str) -> None:
    acme, _ = partner(served.admin, "acme")
    with acme:
        refused = acme.put("/v1/partner/webhook-endpoint", json={"url": url})
        assert refused.status_code == 422, (url, refused.status_code)
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["type"].endswith("/invalid-webhook-url")
        assert "public internet address" in problem["detail"]
        assert acme.get("/v1/partner/webhook-endpoint").status_code == 404  # nothing stored
        public = acme.put("/v1/partner/webhook-endpoint", json={"url": f"https://{PUBLIC_IP}/hook"})
        assert public.status_code == 200  # a public address is fine


@dataclass
class Receiver:
    """A real local HTTP server that records every request it gets."""

    hits: list[str]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            self.hits.append(f"{request.url.path} host={request.headers.get('host')}")
            return Response(status_code=204)

        @app.post("/moved")
        async def moved(request: Request) -> Response:
            self.hits.append(request.url.path)
            return Response(status_code=302, headers={"Location": "/internal"}, content=b"secret-body")

        @app.api_route("/internal", methods=["GET", "POST"])
        async def internal(request: Request) -> Response:
            self.hits.append(request.url.path)
            return Response(status_code=200)

        return app


def test_a_name_that_turns_internal_after_registration_is_not_contacted(
    served: Served, db: Database, clock: ManualClock
) -> None:
    receiver = Receiver(hits=[])
    resolver = served.resolver
    with serve(receiver.app()) as receiver_url:
        port = int(receiver_url.rsplit(":", 1)[1])
        resolver.set("hooks.rebind.example", PUBLIC_IP)  # public when the partner registers it
        acme, partner_id = partner(served.admin, "rebinder")
        with acme:
            url = f"http://hooks.rebind.example:{port}/hook"
            assert acme.put("/v1/partner/webhook-endpoint", json={"url": url}).status_code == 200
            resolver.set("hooks.rebind.example", "127.0.0.1")  # … then points at the server itself
            emit_events(db, partner_id, 1)
            delivery.relay(db, clock.now_ns())
            guard = TargetGuard(allow_private=False, resolver=resolver)
            report = delivery.deliver_due(db, clock.now_ns(), guard=guard, timeout_s=2)
            assert (report.attempted, report.delivered) == (1, 0)
            assert receiver.hits == []  # no request reached the internal address
            (seen,) = acme.get("/v1/partner/webhook-deliveries").json()
            assert seen["last_status_code"] is None
            assert "not sent" in seen["last_error"]
            assert "public internet address" in seen["last_error"]
            (attempt,) = acme.get(f"/v1/partner/webhook-deliveries/{seen['delivery_id']}/attempts").json()
            assert (attempt["status_code"], attempt["error"]) == (None, seen["last_error"])
            # Control: the same delivery with private targets allowed reaches the receiver, by the
            # checked address and with the registered name as Host.
            clock.advance(seconds=3600)
            allowed = TargetGuard(allow_private=True, resolver=resolver)
            assert delivery.deliver_due(db, clock.now_ns(), guard=allowed, timeout_s=2).delivered == 1
    assert receiver.hits == [f"/hook host=hooks.rebind.example:{port}"]


def test_a_redirect_is_a_failed_attempt_and_is_not_followed(
    served: Served, db: Database, clock: ManualClock
) -> None:
    receiver = Receiver(hits=[])
    with serve(receiver.app()) as receiver_url:
        port = int(receiver_url.rsplit(":", 1)[1])
        served.resolver.set("moving.example", "127.0.0.1")
        acme, partner_id = partner(served.admin, "mover")
        with acme:
            local = TargetGuard(allow_private=True, resolver=served.resolver)  # the receiver is local
            from earnloop.outbox import service

            with db.uow() as conn:
                target = local.check(f"http://moving.example:{port}/moved")
                service.set_endpoint(conn, partner_id, target, now_ns=clock.now_ns())
            emit_events(db, partner_id, 1)
            delivery.relay(db, clock.now_ns())
            report = delivery.deliver_due(db, clock.now_ns(), guard=local, timeout_s=2)
            assert (report.attempted, report.delivered, report.retrying) == (1, 0, 1)
            (seen,) = acme.get("/v1/partner/webhook-deliveries").json()
    assert receiver.hits == ["/moved"]  # /internal never reached
    assert (seen["state"], seen["last_status_code"], seen["last_error"]) == (
        "pending",
        302,
        "redirect not followed",
    )
    assert "secret-body" not in str(seen)
