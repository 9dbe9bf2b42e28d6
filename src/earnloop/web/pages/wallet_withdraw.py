"""Withdrawing (``/app/wallet/withdraw``): the user's payout destinations (added here; shown masked),
a withdrawal to one of them through the passkey step-up (:mod:`earnloop.web.stepup`, action
``withdraw``), once per form, and the user's withdrawals with their state (``in_review`` reads "under
review")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from earnloop.api.context import run_read, run_write
from earnloop.api.withdrawals import provider_of
from earnloop.errors import DomainError
from earnloop.wallet import service
from earnloop.wallet.screening import keep_refusal, unwrap
from earnloop.wallet.withdrawals import service as withdrawals
from earnloop.web import stepup
from earnloop.web.pages.wallet_forms import (
    FormError,
    _,
    amount_minor,
    as_typed,
    form_key,
    new_key,
    presence,
    refusal_message,
    refusal_status,
    text,
    translate,
    whole_id,
)
from earnloop.web.session import SignedIn, WebUser
from earnloop.web.templating import render

router = APIRouter()
WITHDRAWALS_SHOWN = 20
STATES: dict[str, str] = {
    "requested": _("Requested"),
    "processing": _("Processing"),
    "unknown": _("Being checked with the bank"),
    "paid": _("Paid out"),
    "failed": _("Failed, the money is back in your wallet"),
    "in_review": _("Under review"),
    "rejected": _("Not approved, the money is back in your wallet"),
}
NOTICES: dict[str, str] = {
    "requested": _("Your withdrawal was requested."),
    "destination": _("The payout account was added."),
}


async def _withdraw_page(
    request: Request,
    user: WebUser,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    ctx = user.ctx

    def load(conn: Any) -> dict[str, Any]:
        codes = service.currencies_of(conn, user.user_id)
        return {
            "wallets": [service.view(conn, ctx.ledger, user.user_id, code) for code in codes],
            "destinations": withdrawals.list_destinations(conn, user.user_id),
            "withdrawals": withdrawals.list_withdrawals(conn, user.user_id, limit=WITHDRAWALS_SHOWN),
        }

    context = await run_read(ctx, load)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    context |= {"nav": "wallet", "values": values or {}, "key": new_key(), "error": error}
    context |= {"states": STATES, "notice": notice, "minimum": ctx.settings.withdrawal_min_amount}
    return render(request, "withdraw.html", context, status_code=status_code)


@router.get("/app/wallet/withdraw")
async def withdraw_page(request: Request, user: SignedIn) -> Response:
    return await _withdraw_page(request, user)


@router.post("/app/wallet/withdraw/destinations")
async def add_destination(request: Request, user: SignedIn) -> Response:
    """Add a payout account (screened by risk; the number is stored sealed and shown masked)."""
    ctx = user.ctx
    form = await request.form()
    fields = {name: text(form, name) for name in ("kind", "institution", "holder_name")}
    number, where = text(form, "account_number", max_len=80), presence(request)
    try:
        created = await run_write(
            ctx,
            lambda conn: keep_refusal(withdrawals.add_destination)(
                conn,
                user_id=user.user_id,
                account_number=number,
                now_ns=ctx.ledger.clock.now_ns(),
                risk=ctx.risk,
                presence=where,
                box=ctx.box,
                **fields,
            ),
        )
        unwrap(created)
    except DomainError as exc:
        return await _withdraw_page(
            request, user, values=fields, error=refusal_message(exc), status_code=refusal_status(exc)
        )
    return RedirectResponse("/app/wallet/withdraw?notice=destination", status_code=303)


@router.post("/app/wallet/withdraw")
async def withdraw(request: Request, user: SignedIn) -> Response:
    """Check the form, then withdraw through the step-up contract."""
    form = await request.form()
    values = {name: text(form, name) for name in ("destination_id", "currency", "amount")}
    values["currency"] = values["currency"].upper()[:3]
    try:
        key = form_key(form)
        destination_id = whole_id(form, "destination_id", _("Choose where the money goes."))
        amount = amount_minor(values["amount"], values["currency"])
    except FormError as exc:
        return await _withdraw_page(request, user, values=values, error=exc.message, status_code=exc.status)
    action = stepup.Action(
        kind="withdraw",
        amount_minor=amount,
        currency=values["currency"],
        summary=translate(request, _("Withdraw to your payout account")),
        params={"destination_id": str(destination_id), "currency": values["currency"]}
        | {"amount": str(amount), "key": key},
    )
    return await stepup.confirm_or_run(request, user, action)


@stepup.handler("withdraw")
async def _run_withdraw(request: Request, user: WebUser, action: stepup.Action) -> Response:
    """Hold the money and call the payout provider, once per form key; a refusal (funds, limits, risk)
    shows on the form and nothing is held."""
    ctx, params = user.ctx, action.params
    try:
        await run_in_threadpool(
            lambda: withdrawals.request_withdrawal(
                ctx.db,
                ctx.ledger,
                provider_of(request),
                idempotency_key=params["key"],
                user_id=user.user_id,
                destination_id=int(params["destination_id"]),
                currency_code=params["currency"],
                amount=int(params["amount"]),
                limits=withdrawals.Limits.from_settings(ctx.settings),
                risk=ctx.risk,
                presence=presence(request),
                box=ctx.box,
            )
        )
    except DomainError as exc:
        values = {"destination_id": params["destination_id"], "currency": params["currency"]}
        values["amount"] = as_typed(action.amount_minor, action.currency)
        return await _withdraw_page(
            request, user, values=values, error=refusal_message(exc), status_code=refusal_status(exc)
        )
    return RedirectResponse("/app/wallet/withdraw?notice=requested", status_code=303)
