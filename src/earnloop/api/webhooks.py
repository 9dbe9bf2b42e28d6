"""``/v1`` webhooks: a partner sets its endpoint, rotates its signing secret and inspects deliveries
(``X-Api-Key``); operators list deliveries and replay events (admin token)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from earnloop.api.deps import Admin, PartnerAuth
from earnloop.api.problems import problem_responses
from earnloop.api.types import Id, QueryId
from earnloop.config import Settings
from earnloop.outbox import service
from earnloop.outbox.targets import Resolver, TargetGuard
from earnloop.wallet.schemas import from_ns

router = APIRouter(prefix="/v1", tags=["webhooks"], responses=problem_responses(401, 404, 409, 422))

EventId = Annotated[str, Path(min_length=1, max_length=40)]
DeliveryId = Id
State = Literal["pending", "delivered", "dead"]


def install(app: FastAPI, settings: Settings, resolver: Resolver | None = None) -> None:
    """The webhook target policy (``EARNLOOP_WEBHOOK_ALLOW_PRIVATE_TARGETS``) and its resolver."""
    app.state.webhook_guard = TargetGuard.from_settings(settings, resolver)


def _guard(request: Request) -> TargetGuard:
    guard: TargetGuard = request.app.state.webhook_guard
    return guard


def _time(ns: int | None) -> datetime | None:
    return None if ns is None else from_ns(ns)


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        min_length=1,
        max_length=service.URL_MAX_LEN,
        description="http(s), no credentials; its host must be (and resolve only to) public internet "
        "addresses: loopback, private, link-local and other internal addresses are refused.",
    )
    enabled: bool = True


class SecretInfo(BaseModel):
    secret_id: int
    created_at: datetime
    expires_at: datetime | None = Field(description="Null: valid until the next rotation's grace ends.")


class EndpointOut(BaseModel):
    endpoint_id: int
    partner_id: int
    url: str
    enabled: bool
    created_at: datetime
    updated_at: datetime
    active_secrets: list[SecretInfo]
    secret: str | None = Field(
        default=None, description="The signing secret, only in the answer that created it (shown once)."
    )

    @classmethod
    def of(cls, endpoint: dict[str, Any], secret: str | None = None) -> EndpointOut:
        return cls(
            endpoint_id=endpoint["endpoint_id"],
            partner_id=endpoint["partner_id"],
            url=endpoint["url"],
            enabled=endpoint["enabled"],
            created_at=from_ns(endpoint["created_at_ns"]),
            updated_at=from_ns(endpoint["updated_at_ns"]),
            active_secrets=[
                SecretInfo(
                    secret_id=s["secret_id"],
                    created_at=from_ns(s["created_at_ns"]),
                    expires_at=_time(s["expires_at_ns"]),
                )
                for s in endpoint["secrets"]
            ],
            secret=secret,
        )


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grace_seconds: int = Field(
        strict=True,
        default=service.DEFAULT_GRACE_S,
        ge=0,
        le=service.GRACE_MAX_S,
        description="How long the previous secret keeps signing too (both are sent meanwhile).",
    )


class RotateOut(BaseModel):
    secret_id: int
    secret: str = Field(description="The new signing secret (shown once).")
    created_at: datetime
    previous_expires_at: datetime | None


class DeliveryOut(BaseModel):
    delivery_id: int
    event_id: str
    topic: str
    partner_id: int
    endpoint_id: int
    state: State
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    replays: int
    created_at: datetime

    @classmethod
    def of(cls, d: dict[str, Any]) -> DeliveryOut:
        return cls(
            delivery_id=d["id"],
            event_id=d["event_id"],
            topic=d["topic"],
            partner_id=d["partner_id"],
            endpoint_id=d["endpoint_id"],
            state=d["state"],
            attempts=d["attempts"],
            next_attempt_at=_time(d["next_attempt_at_ns"]),
            last_attempt_at=_time(d["last_attempt_at_ns"]),
            last_status_code=d["last_status_code"],
            last_error=d["last_error"],
            delivered_at=_time(d["delivered_at_ns"]),
            replays=d["replays"],
            created_at=from_ns(d["created_at_ns"]),
        )


class AttemptOut(BaseModel):
    attempt_no: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @classmethod
    def of(cls, a: dict[str, Any]) -> AttemptOut:
        return cls(
            attempt_no=a["attempt_no"],
            at=from_ns(a["at_ns"]),
            status_code=a["status_code"],
            error=a["error"],
            duration_ms=a["duration_ms"],
        )


Limit = Annotated[int, Query(ge=1, le=service.LIST_MAX)]
Before = Annotated[int, Query(ge=0, le=(1 << 63) - 1, description="Page: the last delivery id seen.")]


# -- partner ---------------------------------------------------------------------------------------------


@router.put("/partner/webhook-endpoint", response_model=EndpointOut)
def set_endpoint(body: EndpointIn, partner: PartnerAuth, request: Request) -> EndpointOut:
    """Set (or change, enable, disable) the URL events are POSTed to. The first call also creates the
    signing secret and returns it in `secret` — the only time it is shown. A URL whose host is or
    resolves to an internal address is refused (422 `invalid-webhook-url`)."""
    ctx = partner.ctx
    target = _guard(request).check(body.url)  # may resolve a name: before the transaction
    with ctx.db.uow() as conn:
        endpoint, secret = service.set_endpoint(
            conn,
            partner.partner.id,
            target,
            enabled=body.enabled,
            now_ns=ctx.ledger.clock.now_ns(),
            box=ctx.box,
        )
    return EndpointOut.of(endpoint, secret)


@router.get("/partner/webhook-endpoint", response_model=EndpointOut)
def show_endpoint(partner: PartnerAuth) -> EndpointOut:
    """The endpoint and its active secrets (ids and validity, never the secrets)."""
    ctx = partner.ctx
    with ctx.db.uow(write=False) as conn:
        return EndpointOut.of(service.get_endpoint(conn, partner.partner.id, ctx.ledger.clock.now_ns()))


@router.post("/partner/webhook-secrets/rotate", response_model=RotateOut, status_code=201)
def rotate_secret(partner: PartnerAuth, body: RotateIn | None = None) -> RotateOut:
    """A new signing secret (shown once). The previous one stays valid for `grace_seconds`; meanwhile
    every request carries a signature with each."""
    ctx = partner.ctx
    grace = (body or RotateIn()).grace_seconds
    with ctx.db.uow() as conn:
        rotated = service.rotate_secret(
            conn, partner.partner.id, now_ns=ctx.ledger.clock.now_ns(), grace_s=grace, box=ctx.box
        )
    return RotateOut(
        secret_id=rotated["secret_id"],
        secret=rotated["secret"],
        created_at=from_ns(rotated["created_at_ns"]),
        previous_expires_at=_time(rotated["previous_expires_at_ns"]),
    )


@router.get("/partner/webhook-deliveries", response_model=list[DeliveryOut])
def partner_deliveries(
    partner: PartnerAuth,
    state: State | None = None,
    event_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Limit = 50,
    before: Before = 0,
) -> list[DeliveryOut]:
    """The partner's deliveries, newest first."""
    with partner.ctx.db.uow(write=False) as conn:
        rows = service.list_deliveries(
            conn, partner_id=partner.partner.id, event_id=event_id, state=state, limit=limit, before_id=before
        )
    return [DeliveryOut.of(r) for r in rows]


@router.get("/partner/webhook-deliveries/{delivery_id}/attempts", response_model=list[AttemptOut])
def partner_attempts(delivery_id: DeliveryId, partner: PartnerAuth) -> list[AttemptOut]:
    """Every attempt of one of the partner's deliveries: status code or error, and duration."""
    with partner.ctx.db.uow(write=False) as conn:
        rows = service.list_attempts(conn, delivery_id, partner_id=partner.partner.id)
    return [AttemptOut.of(r) for r in rows]


@router.post("/partner/webhook-events/{event_id}/replay", response_model=list[DeliveryOut])
def partner_replay(event_id: EventId, partner: PartnerAuth) -> list[DeliveryOut]:
    """Send one of the partner's events again (dedupe by `Earnloop-Event-Id`)."""
    ctx = partner.ctx
    with ctx.db.uow() as conn:
        rows = service.replay(conn, event_id, now_ns=ctx.ledger.clock.now_ns(), partner_id=partner.partner.id)
    return [DeliveryOut.of(r) for r in rows]


# -- admin -----------------------------------------------------------------------------------------------


@router.get("/admin/webhooks/deliveries", response_model=list[DeliveryOut])
def admin_deliveries(
    ctx: Admin,
    partner_id: QueryId = None,
    state: State | None = None,
    event_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Limit = 50,
    before: Before = 0,
) -> list[DeliveryOut]:
    """Every partner's deliveries, newest first."""
    with ctx.db.uow(write=False) as conn:
        rows = service.list_deliveries(
            conn, partner_id=partner_id, event_id=event_id, state=state, limit=limit, before_id=before
        )
    return [DeliveryOut.of(r) for r in rows]


@router.get("/admin/webhooks/deliveries/{delivery_id}/attempts", response_model=list[AttemptOut])
def admin_attempts(delivery_id: DeliveryId, ctx: Admin) -> list[AttemptOut]:
    """Every attempt of a delivery."""
    with ctx.db.uow(write=False) as conn:
        rows = service.list_attempts(conn, delivery_id)
    return [AttemptOut.of(r) for r in rows]


@router.post("/admin/webhooks/events/{event_id}/replay", response_model=list[DeliveryOut])
def admin_replay(event_id: EventId, ctx: Admin) -> list[DeliveryOut]:
    """Queue an event for delivery again, due now (also revives a dead delivery)."""
    with ctx.db.uow() as conn:
        rows = service.replay(conn, event_id, now_ns=ctx.ledger.clock.now_ns())
    return [DeliveryOut.of(r) for r in rows]
