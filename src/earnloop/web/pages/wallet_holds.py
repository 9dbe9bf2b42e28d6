"""Deposit holds (``/app/wallet/holds``): the deposits merchants ask to hold from the user's wallet —
approved through the passkey step-up (:mod:`earnloop.web.stepup`, action ``approve-hold``: the deposit
is held from then on) or declined (nothing is held) — and the user's holds with their state; a hold
the user's credit score waived shows that decision with its reasons (so does a request it did not)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection, select
from starlette.responses import RedirectResponse, Response

from earnloop.api.context import run_read, run_write
from earnloop.auth.models import partners
from earnloop.errors import DomainError
from earnloop.wallet.escrow.service import Actor
from earnloop.wallet.holds import service as holds
from earnloop.wallet.holds.schemas import Hold
from earnloop.web import stepup
from earnloop.web.pages import credit as credit_page
from earnloop.web.pages.wallet_forms import (
    FormError,
    _,
    confirm_owned,
    form_key,
    new_key,
    refusal_message,
    refusal_status,
)
from earnloop.web.session import SignedIn, WebUser
from earnloop.web.templating import render

router = APIRouter()
STATES: dict[str, str] = {
    "requested": _("Waiting for you"),
    "held": _("Held"),
    "captured": _("Charged"),
    "released": _("Released"),
    "declined": _("Declined"),
    "expired": _("Expired"),
    "waived": _("No deposit needed"),
}
NOTICES: dict[str, str] = {
    "approved": _("The deposit is now held from your wallet."),
    "declined": _("You declined the deposit. Nothing was held."),
}


def _merchants(conn: Connection, found: list[Hold]) -> dict[int, str]:
    ids = {h["partner_id"] for h in found}
    if not ids:
        return {}
    rows = conn.execute(select(partners.c.id, partners.c.name).where(partners.c.id.in_(ids)))
    return {int(r.id): str(r.name) for r in rows}


async def _holds_page(
    request: Request, user: WebUser, *, error: str | None = None, status_code: int = 200
) -> Response:
    ctx = user.ctx

    def load(conn: Connection) -> dict[str, Any]:
        found = holds.list_user_holds(conn, ctx.ledger, user.user_id)
        return {"holds": found, "merchants": _merchants(conn, found)}

    context = await run_read(ctx, load)
    context |= {"nav": "wallet", "states": STATES, "error": error, "decisions": credit_page.DECISIONS}
    context |= {"keys": {h["hold_id"]: new_key() for h in context["holds"] if h["state"] == "requested"}}
    context["notice"] = NOTICES.get(request.query_params.get("notice", ""))
    return render(request, "holds.html", context, status_code=status_code)


@router.get("/app/wallet/holds")
async def holds_page(request: Request, user: SignedIn) -> Response:
    return await _holds_page(request, user)


@router.post("/app/wallet/holds/{hold_id}/approve")
async def approve(request: Request, user: SignedIn, hold_id: str) -> Response:
    """Approve a hold request through the step-up contract (its amount is what will be held)."""
    ctx = user.ctx
    form = await request.form()
    try:
        key = form_key(form)
        hold = await run_read(ctx, lambda conn: _own_hold(conn, ctx, user.user_id, hold_id))
    except FormError as exc:
        return await _holds_page(request, user, error=exc.message, status_code=exc.status)
    except DomainError as exc:
        return await _holds_page(request, user, error=refusal_message(exc), status_code=refusal_status(exc))
    params = {"hold_id": hold_id, "key": key}
    summary = _("Hold a deposit for %(product)s")
    return await confirm_owned(request, user, "approve-hold", hold, params, summary, product=hold["product"])


def _own_hold(conn: Connection, ctx: Any, user_id: int, hold_id: str) -> Hold:
    return holds.get_hold(conn, ctx.ledger, hold_id, actor=Actor("buyer", user_id))


@stepup.handler("approve-hold")
async def _run_approve(request: Request, user: WebUser, action: stepup.Action) -> Response:
    ctx, params = user.ctx, action.params
    try:
        await run_write(
            ctx,
            lambda conn: holds.approve(
                conn,
                ctx.ledger,
                idempotency_key=params["key"],
                hold_id=params["hold_id"],
                user_id=user.user_id,
            ),
        )
    except DomainError as exc:
        return await _holds_page(request, user, error=refusal_message(exc), status_code=refusal_status(exc))
    return RedirectResponse("/app/wallet/holds?notice=approved", status_code=303)


@router.post("/app/wallet/holds/{hold_id}/decline")
async def decline(request: Request, user: SignedIn, hold_id: str) -> Response:
    """Decline a hold request: nothing is held (no money moves, so no step-up)."""
    ctx = user.ctx
    form = await request.form()
    try:
        key = form_key(form)
        await run_write(
            ctx,
            lambda conn: holds.decline(
                conn, ctx.ledger, idempotency_key=key, hold_id=hold_id, user_id=user.user_id
            ),
        )
    except FormError as exc:
        return await _holds_page(request, user, error=exc.message, status_code=exc.status)
    except DomainError as exc:
        return await _holds_page(request, user, error=refusal_message(exc), status_code=refusal_status(exc))
    return RedirectResponse("/app/wallet/holds?notice=declined", status_code=303)
