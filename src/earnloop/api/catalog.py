"""``/v1`` catalog: operators manage merchants, games, campaigns, budgets and imports (admin token); the
consumer app reads active games with their milestones and campaigns (``two_x_zone``) without a token."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from earnloop.api.context import app_context
from earnloop.api.deps import Admin, IdempotencyKey
from earnloop.api.problems import PROBLEM_MEDIA_TYPE, TYPE_BASE, problem_responses
from earnloop.api.types import Id
from earnloop.catalog import importer, pricing, service
from earnloop.catalog.errors import CatalogNotFoundError, ImportRejectedError
from earnloop.catalog.schemas import FundIn, PriceIn, UseIn

router = APIRouter(prefix="/v1", tags=["catalog"], responses=problem_responses(401, 404, 409, 422))
Doc = Annotated[dict[str, Any], Body()]
Kind = Literal["games", "merchants"]
IMPORT_MAX_BYTES = 20 * 1024 * 1024


# -- admin --------------------------------------------------------------------------------------------
@router.put("/admin/catalog/merchants", tags=["admin"])
def put_merchant(body: Doc, ctx: Admin) -> dict[str, Any]:
    """Create or update a merchant by ``key`` (links a ``merchant`` partner)."""
    with ctx.db.uow() as conn:
        return service.upsert_merchant(conn, body)


@router.get("/admin/catalog/merchants", tags=["admin"])
def admin_merchants(ctx: Admin) -> list[dict[str, Any]]:
    with ctx.db.uow(write=False) as conn:
        return service.list_merchants(conn)


@router.put("/admin/catalog/games", tags=["admin"])
def put_game(body: Doc, ctx: Admin) -> dict[str, Any]:
    """Create or update a game by ``key``; milestones are upserted by their ``key``."""
    with ctx.db.uow() as conn:
        return service.upsert_game(conn, body)


@router.get("/admin/catalog/games", tags=["admin"])
def admin_games(ctx: Admin, status: str | None = None) -> list[dict[str, Any]]:
    with ctx.db.uow(write=False) as conn:
        return service.list_games(conn, status=status)


@router.put("/admin/catalog/campaigns", tags=["admin"])
def put_campaign(body: Doc, ctx: Admin) -> dict[str, Any]:
    """Create or update a campaign by ``key`` (targets: game and merchant keys)."""
    with ctx.db.uow() as conn:
        return service.upsert_campaign(conn, body)


@router.get("/admin/catalog/campaigns", tags=["admin"])
def admin_campaigns(ctx: Admin) -> list[dict[str, Any]]:
    with ctx.db.uow(write=False) as conn:
        return service.list_campaigns(conn, ctx.ledger)


@router.get("/admin/catalog/campaigns/{campaign_id}", tags=["admin"])
def admin_campaign(campaign_id: Id, ctx: Admin) -> dict[str, Any]:
    with ctx.db.uow(write=False) as conn:
        return service.get_campaign(conn, campaign_id, ctx.ledger)


@router.post("/admin/catalog/campaigns/{campaign_id}/fund", tags=["admin"])
def fund(campaign_id: Id, body: FundIn, ctx: Admin, key: IdempotencyKey) -> dict[str, Any]:
    """Move money from the operator into the campaign's ledger budget (never above its total)."""
    with ctx.db.uow() as conn:
        return service.fund_campaign(conn, ctx.ledger, campaign_id, body.amount, key)


@router.post("/admin/catalog/price", tags=["admin"])
def price(body: PriceIn, ctx: Admin) -> dict[str, Any]:
    """Quote a reward: base + campaign bonuses, after caps and budgets (changes nothing)."""
    with ctx.db.uow(write=False) as conn:
        return pricing.price_reward(
            conn,
            ctx.ledger,
            user_id=body.user_id,
            at_ns=body.at_ns if body.at_ns is not None else time.time_ns(),
            game_id=body.game_id,
            milestone_id=body.milestone_id,
            merchant_id=body.merchant_id,
            base_amount=body.base_amount,
            category=body.category,
        ).as_dict()


@router.post("/admin/catalog/uses", tags=["admin"])
def record_use(body: UseIn, ctx: Admin) -> dict[str, Any]:
    """Record a use against a campaign cap or milestone limit (the earn engine calls the service)."""
    with ctx.db.uow() as conn:
        return service.record_use(conn, **body.model_dump())


@router.post("/admin/catalog/import", tags=["admin"])
async def import_file(
    request: Request,
    ctx: Admin,
    format: Annotated[Literal["csv", "json"], Query()] = "json",
    kind: Annotated[Kind | None, Query()] = None,
) -> Response:
    """Import a CSV or JSON file (the request body). All rows or none: a rejected file answers 422 with
    ``errors`` = [{row, field, message}]."""
    raw = await request.body()
    if len(raw) > IMPORT_MAX_BYTES:
        return _problem(request, 413, "payload-too-large", "Payload too large", "at most 20 MiB")
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _problem(request, 422, "catalog-invalid", "Invalid catalog data", "the file must be UTF-8")
    try:
        with ctx.db.uow() as conn:
            report = importer.import_catalog(conn, content, fmt=format, kind=kind)
    except ImportRejectedError as exc:
        return _problem(
            request, exc.status, exc.slug, exc.title, str(exc), errors=[e.as_dict() for e in exc.errors]
        )
    return JSONResponse(report)


@router.get(
    "/admin/catalog/export",
    tags=["admin"],
    responses={200: {"description": "The catalog", "content": {"application/json": {}, "text/csv": {}}}},
)
def export(
    ctx: Admin,
    format: Annotated[Literal["csv", "json"], Query()] = "json",
    kind: Annotated[Kind | None, Query()] = None,
) -> Response:
    with ctx.db.uow(write=False) as conn:
        if format == "csv":
            return PlainTextResponse(importer.export_csv(conn, kind or "games"), media_type="text/csv")
        return JSONResponse(importer.export_json(conn, kind))


def _problem(request: Request, status: int, slug: str, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
    body.update(instance=request.url.path, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


# -- public (consumer app) ----------------------------------------------------------------------------
def _public_campaign(c: dict[str, Any]) -> dict[str, Any]:
    hidden = {"budget_total", "funded", "budget_mode", "budget_remaining", "status"}
    return {k: v for k, v in c.items() if k not in hidden}


@router.get("/catalog/games")
def public_games(
    request: Request, tag: str | None = None, platform: str | None = None
) -> list[dict[str, Any]]:
    """Active games with their milestones and the campaigns running now; ``two_x_zone`` when one of
    them at least doubles rewards."""
    ctx = app_context(request)
    now = time.time_ns()
    with ctx.db.uow(write=False) as conn:
        active = service.list_campaigns(conn, active_at_ns=now)
        answer = []
        for game in service.list_games(conn, status="active", tag=tag, platform=platform):
            running = [_public_campaign(c) for c in active if game["key"] in c["games"]]
            game = {k: v for k, v in game.items() if k != "publisher_id"}
            answer.append({**game, "campaigns": running, "two_x_zone": any(c["two_x_zone"] for c in running)})
        return answer


@router.get("/catalog/games/{game_id}")
def public_game(request: Request, game_id: Id) -> dict[str, Any]:
    ctx = app_context(request)
    with ctx.db.uow(write=False) as conn:
        game = service.get_game(conn, game_id)
        if game["status"] != "active":
            raise CatalogNotFoundError(f"no game {game_id}")
        running = [
            _public_campaign(c)
            for c in service.list_campaigns(conn, active_at_ns=time.time_ns())
            if game["key"] in c["games"]
        ]
    return {**game, "campaigns": running, "two_x_zone": any(c["two_x_zone"] for c in running)}


@router.get("/catalog/merchants")
def public_merchants(request: Request, category: str | None = None) -> list[dict[str, Any]]:
    """Merchants with their cashback rates, lock period and the campaigns running now."""
    ctx = app_context(request)
    with ctx.db.uow(write=False) as conn:
        active = service.list_campaigns(conn, active_at_ns=time.time_ns())
        answer = []
        for m in service.list_merchants(conn, category=category):
            running = [_public_campaign(c) for c in active if m["key"] in c["merchants"]]
            public = {k: v for k, v in m.items() if k not in {"tracking_template", "tax_ids", "payout_terms"}}
            answer.append(
                {**public, "campaigns": running, "two_x_zone": any(c["two_x_zone"] for c in running)}
            )
        return answer


@router.get("/catalog/campaigns")
def public_campaigns(request: Request) -> list[dict[str, Any]]:
    ctx = app_context(request)
    with ctx.db.uow(write=False) as conn:
        return [_public_campaign(c) for c in service.list_campaigns(conn, active_at_ns=time.time_ns())]
