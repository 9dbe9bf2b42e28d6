"""Donating (``/app/wallet/donate``): the charities' campaigns open now, an amount, and the donation
through the passkey step-up (:mod:`earnloop.web.stepup`, action ``donate``), once per form."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from earnloop.api.context import run_read, run_write
from earnloop.errors import DomainError
from earnloop.wallet import service
from earnloop.wallet.donations import service as donations
from earnloop.web import stepup
from earnloop.web.pages.wallet_forms import (
    FormError,
    _,
    amount_minor,
    as_typed,
    form_key,
    new_key,
    refusal_message,
    refusal_status,
    text,
    translate,
    whole_id,
)
from earnloop.web.session import SignedIn, WebUser
from earnloop.web.templating import render

router = APIRouter()


async def _donate_page(
    request: Request,
    user: WebUser,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    ctx = user.ctx

    def load(conn: Any) -> tuple[list[Any], list[service.WalletView]]:
        codes = service.currencies_of(conn, user.user_id)
        wallets = [service.view(conn, ctx.ledger, user.user_id, code) for code in codes]
        return donations.open_campaigns(conn, ctx.ledger), wallets

    campaigns, wallets = await run_read(ctx, load)
    context = {
        "nav": "wallet",
        "campaigns": campaigns,
        "wallets": wallets,
        "values": values or {},
        "key": new_key(),
        "error": error,
    }
    return render(request, "donate.html", context, status_code=status_code)


@router.get("/app/wallet/donate")
async def donate_page(request: Request, user: SignedIn) -> Response:
    return await _donate_page(request, user)


@router.post("/app/wallet/donate")
async def donate(request: Request, user: SignedIn) -> Response:
    """Check the form, then donate through the step-up contract."""
    ctx = user.ctx
    form = await request.form()
    values = {"campaign_id": text(form, "campaign_id"), "amount": text(form, "amount")}
    try:
        key = form_key(form)
        campaign_id = whole_id(form, "campaign_id", _("Choose a campaign."))
        campaign, wallets = await run_read(
            ctx,
            lambda conn: (
                donations.campaign_progress(conn, ctx.ledger, campaign_id),
                service.currencies_of(conn, user.user_id),
            ),
        )
        if campaign["currency"] not in wallets:
            raise FormError(_("You have no wallet in this campaign's currency."))
        amount = amount_minor(values["amount"], campaign["currency"])
    except FormError as exc:
        return await _donate_page(request, user, values=values, error=exc.message, status_code=exc.status)
    except DomainError as exc:
        return await _donate_page(
            request, user, values=values, error=refusal_message(exc), status_code=refusal_status(exc)
        )
    action = stepup.Action(
        kind="donate",
        amount_minor=amount,
        currency=campaign["currency"],
        summary=translate(request, _("Donate to %(campaign)s"), campaign=campaign["name"]),
        params={"campaign_id": str(campaign_id), "amount": str(amount), "key": key},
    )
    return await stepup.confirm_or_run(request, user, action)


@stepup.handler("donate")
async def _run_donate(request: Request, user: WebUser, action: stepup.Action) -> Response:
    ctx = user.ctx
    params = action.params
    try:
        await run_write(
            ctx,
            lambda conn: donations.donate(
                conn,
                ctx.ledger,
                idempotency_key=params["key"],
                user_id=user.user_id,
                campaign_id=int(params["campaign_id"]),
                amount=int(params["amount"]),
            ),
        )
    except DomainError as exc:
        values = {
            "campaign_id": params["campaign_id"],
            "amount": as_typed(action.amount_minor, action.currency),
        }
        return await _donate_page(
            request, user, values=values, error=refusal_message(exc), status_code=refusal_status(exc)
        )
    return RedirectResponse("/app/wallet?notice=donated", status_code=303)
