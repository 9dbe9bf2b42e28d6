"""Tracking: ``GET /go/{game_id}`` (a user's click → 302 to the store), ``/postbacks/{provider}`` (raw
provider callbacks, answered in the provider's own format) and the operators' secrets (per provider, and
per game publisher for the ``earnloop`` scheme) / links / log."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from earnloop.api.context import app_context
from earnloop.api.deps import Admin, User
from earnloop.api.inbound import answer_postback, client_ip
from earnloop.api.problems import problem_responses
from earnloop.api.types import Id
from earnloop.config import Settings
from earnloop.tracking import service
from earnloop.tracking.verifiers import APPSFLYER_PUSH_NETWORKS, Registry, registry

router = APIRouter(tags=["tracking"])
Provider = Annotated[str, Path(min_length=1, max_length=40)]


class SecretIn(BaseModel):
    secret: str = Field(min_length=service.SECRET_MIN_LEN, max_length=service.SECRET_MAX_LEN)
    active: bool = True


class LinkIn(BaseModel):
    template: str | None = Field(default=None, max_length=1000)


@router.get(
    "/go/{game_id}",
    status_code=302,
    response_class=RedirectResponse,
    responses={
        **problem_responses(401, 404, 409, 422),
        302: {"description": "To the store (or tracking link) carrying the click id"},
    },
)
def go(game_id: Id, request: Request, user: User) -> RedirectResponse:
    """Record the user's click on a game and redirect to its store page."""
    ctx = user.ctx
    with ctx.db.uow() as conn:
        click = service.record_click(
            conn,
            user_id=user.user_id,
            game_id=game_id,
            user_agent=request.headers.get("user-agent", ""),
            client_ip=client_ip(request),
            now_ns=ctx.ledger.clock.now_ns(),
            risk=ctx.risk,
            device_id=request.headers.get(DEVICE_HEADER),
        )
    return RedirectResponse(click["location"], status_code=302, headers={"Cache-Control": "no-store"})


POSTBACK_PATH = "/postbacks/{provider}"
DEVICE_HEADER = "x-device-id"  # the app's device identifier, a risk velocity key
_POSTBACK_RESPONSES: dict[int | str, dict[str, Any]] = {
    **problem_responses(400, 403, 404, 422, 503),
    200: {"description": "The provider's expected success body"},
}


@lru_cache(maxsize=8)
def _verifiers(networks: tuple[str, ...], token_header: str) -> Registry:
    return registry(appsflyer_networks=networks, appsflyer_token_header=token_header)


def verifiers_of(settings: Settings) -> Registry:
    """The providers' verifiers as the settings configure them (built once per configuration); AppsFlyer's
    networks unset: the blocks AppsFlyer publishes (``tracking.verifiers.APPSFLYER_PUSH_NETWORKS``)."""
    networks = settings.appsflyer_push_networks
    configured = APPSFLYER_PUSH_NETWORKS if networks is None else tuple(networks)
    return _verifiers(configured, settings.appsflyer_token_header)


async def _postback(provider: str, request: Request) -> Response:
    ctx = app_context(request)
    verifiers, box, risk = verifiers_of(ctx.settings), ctx.box, ctx.risk
    return await answer_postback(
        request,
        lambda conn, ledger, raw, now_ns: service.handle_postback(
            conn, ledger, raw, provider=provider, now_ns=now_ns, verifiers=verifiers, box=box, risk=risk
        ),
    )


async def postback(provider: Provider, request: Request) -> Response:
    """A provider's server-to-server callback, verified over the raw request; idempotent on the
    provider's transaction id (a duplicate gets the first reply verbatim)."""
    return await _postback(provider, request)


async def postback_query(provider: Provider, request: Request) -> Response:
    """The same for providers that call back with ``GET`` and a query string (Tapjoy, ayeT-Studios)."""
    return await _postback(provider, request)


def install_postbacks(app: FastAPI) -> None:
    """``/postbacks/{provider}`` (POST and GET) on the app itself, ahead of every router: an included
    router is matched twice per request (to pick it, then inside it): ~10 µs a postback (ADR 0013)."""
    for method, endpoint in (("POST", postback), ("GET", postback_query)):
        app.add_api_route(
            POSTBACK_PATH, endpoint, methods=[method], responses=_POSTBACK_RESPONSES, tags=["tracking"]
        )


# -- admin --------------------------------------------------------------------------------------------
admin = APIRouter(
    prefix="/v1/admin/tracking", tags=["admin", "tracking"], responses=problem_responses(401, 404, 422)
)


@admin.put("/providers/{provider}/secrets")
def put_secret(provider: Provider, body: SecretIn, ctx: Admin) -> dict[str, Any]:
    """Add a provider secret (AppsFlyer: its Push API token) or (de)activate one (two active = rotation).
    The ``earnloop`` scheme's secrets are per game publisher (``/partners/{partner_id}/secrets``). The
    secret is not echoed."""
    with ctx.db.uow() as conn:
        return service.set_provider_secret(
            conn,
            provider=provider,
            secret=body.secret,
            active=body.active,
            now_ns=ctx.ledger.clock.now_ns(),
            box=ctx.box,
        )


@admin.get("/providers/{provider}/secrets")
def get_secrets(provider: Provider, ctx: Admin) -> list[dict[str, Any]]:
    with ctx.db.uow(write=False) as conn:
        return service.list_provider_secrets(conn, provider)


@admin.put("/partners/{partner_id}/secrets")
def put_partner_secret(partner_id: Id, body: SecretIn, ctx: Admin) -> dict[str, Any]:
    """Add a game publisher's ``earnloop`` postback secret or (de)activate one (at most two active: a
    rotation). The publisher signs postbacks for its own games only. The secret is not echoed."""
    with ctx.db.uow() as conn:
        return service.set_partner_secret(
            conn,
            partner_id=partner_id,
            secret=body.secret,
            active=body.active,
            now_ns=ctx.ledger.clock.now_ns(),
            box=ctx.box,
        )


@admin.get("/partners/{partner_id}/secrets")
def get_partner_secrets(partner_id: Id, ctx: Admin) -> list[dict[str, Any]]:
    """The publisher's ``earnloop`` secrets (ids and state, never the values)."""
    with ctx.db.uow(write=False) as conn:
        return service.list_partner_secrets(conn, partner_id)


@admin.put("/games/{game_id}/link")
def put_link(game_id: Id, body: LinkIn, ctx: Admin) -> dict[str, Any]:
    """Set (or clear with ``null``) the game's tracking template (``{click_id}`` is substituted)."""
    with ctx.db.uow() as conn:
        return service.set_game_link(
            conn, game_id=game_id, template=body.template, now_ns=ctx.ledger.clock.now_ns()
        )


@admin.get("/postbacks")
def get_postbacks(
    ctx: Admin,
    provider: str | None = None,
    outcome: Literal["accepted", "duplicate", "rejected"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Postbacks as received, newest first, with their outcome and reason code."""
    with ctx.db.uow(write=False) as conn:
        return service.list_postbacks(conn, provider=provider, outcome=outcome, limit=limit)
