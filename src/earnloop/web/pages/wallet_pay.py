"""Paying at a partner store (``/app/wallet/pay``): a one-time pay code and its QR for the till to
charge (the merchant charges it through the partner API; the page follows its state: active → used or
expired), and the orders merchants addressed to the user, which the user confirms (through the passkey
step-up, :mod:`earnloop.web.stepup`, action ``pay-order``). An order a store shows as a QR or link is
opened by its order code.

A pay code pays up to the amount the user asked for ("Up to"; empty: the passkey threshold), and a
code for more than the threshold is confirmed with the passkey first (action ``pay-code``): the cap is
what the user authorised, and a store charging more is refused. The handler answers with a redirect to
the code's own page, ``GET /app/wallet/pay/code/{id}`` (so it works the same at once and after a passkey
confirmation, whose script follows redirects, and a reload shows the same code instead of issuing
another): that page shows the code and its QR to its owner while it is active, read from its sealed
copy (:mod:`earnloop.wallet.pay.mine`), with ``Cache-Control: no-store``; the code never appears in a
URL, and the htmx status fragment never carries it."""

from __future__ import annotations

from typing import Any

import segno
from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from earnloop.api.context import run_read, run_write
from earnloop.errors import DomainError
from earnloop.wallet import service
from earnloop.wallet.errors import NotFoundError
from earnloop.wallet.pay import mine
from earnloop.wallet.pay import service as pay
from earnloop.wallet.screening import keep_refusal, unwrap
from earnloop.web import i18n, stepup
from earnloop.web.pages.wallet_forms import (
    FormError,
    _,
    amount_minor,
    as_typed,
    confirm_owned,
    form_key,
    new_key,
    presence,
    refusal_message,
    refusal_status,
    text,
    translate,
)
from earnloop.web.session import SignedIn, WebUser
from earnloop.web.templating import render

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store"}
FINAL_CODE_STATES = ("used", "expired")


def qr_svg(payload: str, title: str) -> Markup:
    """The QR code of ``payload`` as inline SVG: a full QR code (never a Micro QR, which many tills
    cannot read), dark on light with its quiet zone; segno escapes the title."""
    svg = segno.make_qr(payload, error="m").svg_inline(scale=8, title=title, svgclass="qr")
    return Markup(svg)  # noqa: S704 - segno's own output, no user input besides the escaped title


def grouped(code: str) -> str:
    """``123456789012345678`` → ``123456 789012 345678``: easier to read out at the till."""
    return " ".join(code[i : i + 6] for i in range(0, len(code), 6))


# -- the pay page -----------------------------------------------------------------------------------
async def _pay_page(
    request: Request,
    user: WebUser,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    ctx = user.ctx

    def load(conn: Any) -> tuple[list[str], list[Any]]:
        return service.currencies_of(conn, user.user_id), mine.awaiting_orders(conn, ctx.ledger, user.user_id)

    currencies, awaiting = await run_read(ctx, load)
    keys = {o["token"]: new_key() for o in awaiting}
    lang, limit = i18n.negotiate(request), default_limit(user)
    context = {
        "nav": "wallet",
        "currencies": currencies,
        "orders": awaiting,
        "error": error,
        "keys": keys,
        "code_key": new_key(),
        "values": values or {},
        "default_caps": " / ".join(i18n.money(limit, code, lang) for code in currencies),
    }
    return render(request, "pay.html", context, status_code=status_code)


@router.get("/app/wallet/pay")
async def pay_page(request: Request, user: SignedIn) -> Response:
    return await _pay_page(request, user)


@router.get("/app/wallet/pay/order")
async def find_order(request: Request, user: SignedIn, code: str = "") -> Response:
    """The "open an order by its code" form: on to the order's page."""
    token = code.strip()
    if not pay.ORDER_TOKEN_RE.match(token):
        return await _pay_page(
            request, user, error=_("Enter the order code the store shows."), status_code=422
        )
    return RedirectResponse(f"/app/wallet/pay/orders/{token}", status_code=303)


# -- pay codes ---------------------------------------------------------------------------------------
def default_limit(user: WebUser) -> int:
    """A pay code's cap when the user leaves "Up to" empty: the passkey threshold (no passkey needed)."""
    return min(max(user.ctx.settings.passkey_threshold, 1), 1 << 62)


@router.post("/app/wallet/pay/code")
async def show_pay_code(request: Request, user: SignedIn) -> Response:
    """Check the form, then issue a pay code for up to the amount typed in the chosen wallet's currency
    through the step-up contract (a passkey above the threshold)."""
    form = await request.form()
    values = {"currency": text(form, "currency", max_len=3).upper(), "limit": text(form, "limit")}
    ctx = user.ctx
    try:
        key = form_key(form)
        wallets = await run_read(ctx, lambda conn: service.currencies_of(conn, user.user_id))
        if values["currency"] not in wallets:
            raise FormError(_("Choose one of your wallets."))
        limit = amount_minor(values["limit"], values["currency"]) if values["limit"] else default_limit(user)
    except FormError as exc:
        return await _pay_page(request, user, values=values, error=exc.message, status_code=exc.status)
    cap = i18n.money(limit, values["currency"], i18n.negotiate(request))
    action = stepup.Action(
        kind="pay-code",
        amount_minor=limit,
        currency=values["currency"],
        summary=translate(request, _("Pay code for up to %(amount)s"), amount=cap),
        params={"currency": values["currency"], "limit": str(limit), "key": key},
    )
    return await stepup.confirm_or_run(request, user, action)


@stepup.handler("pay-code")
async def _run_pay_code(request: Request, user: WebUser, action: stepup.Action) -> Response:
    """Issue the code (once per form key) and go to its page."""
    ctx = user.ctx
    params = action.params
    try:
        code_id = await run_write(
            ctx,
            lambda conn: mine.issue_code(
                conn,
                ctx.ledger,
                ctx.box,
                idempotency_key=params["key"],
                user_id=user.user_id,
                currency_code=params["currency"],
                max_amount=int(params["limit"]),
            ),
        )
    except DomainError as exc:
        return await _pay_page(request, user, error=refusal_message(exc), status_code=refusal_status(exc))
    return RedirectResponse(f"/app/wallet/pay/code/{code_id}", status_code=303)


@router.get("/app/wallet/pay/code/{code_id}")
async def pay_code_page(request: Request, user: SignedIn, code_id: int) -> Response:
    """A pay code: while active, its owner's page shows the code and its QR; the status fragment keeps
    polling while the code is active (htmx); without JavaScript, a page of its own."""
    ctx = user.ctx
    fragment = request.headers.get("hx-request") == "true"
    box = None if fragment else ctx.box
    try:
        status = await run_read(
            ctx,
            lambda conn: mine.code_status(conn, ctx.ledger, user_id=user.user_id, code_id=code_id, box=box),
        )
    except NotFoundError:
        return Response(status_code=404)
    final = status["state"] in FINAL_CODE_STATES
    context: dict[str, Any] = {"nav": "wallet", "status": status, "final": final}
    if fragment:
        return render(request, "_pay_code_status.html", context, headers=NO_STORE)
    shown = status["code"]
    if shown is None:
        return render(request, "pay_code_status.html", context, headers=NO_STORE)
    limit = status["max_amount"]
    context |= {
        "digits": grouped(shown),
        "qr": qr_svg(shown, translate(request, _("QR code of your pay code"))),
        "key": new_key(),
        "limit": "" if limit is None else as_typed(limit, status["currency"]),
    }
    return render(request, "pay_code.html", context, headers=NO_STORE)


# -- merchant orders ---------------------------------------------------------------------------------
async def _order_page(
    request: Request, user: WebUser, token: str, *, error: str | None = None, status_code: int = 200
) -> Response:
    ctx = user.ctx
    try:
        order = await run_read(
            ctx, lambda conn: pay.user_order(conn, ctx.ledger, user_id=user.user_id, token=token)
        )
    except NotFoundError:
        return await _pay_page(request, user, error=_("There is no order with that code."), status_code=404)
    context = {"nav": "wallet", "order": order, "key": new_key(), "error": error}
    return render(request, "pay_order.html", context, status_code=status_code)


@router.get("/app/wallet/pay/orders/{token}")
async def order_page(request: Request, user: SignedIn, token: str) -> Response:
    return await _order_page(request, user, token)


@router.post("/app/wallet/pay/orders/{token}/confirm")
async def confirm_order(request: Request, user: SignedIn, token: str) -> Response:
    """Pay the order: through the step-up contract (a passkey above the threshold)."""
    ctx = user.ctx
    form = await request.form()
    try:
        key = form_key(form)
        order = await run_read(
            ctx, lambda conn: pay.user_order(conn, ctx.ledger, user_id=user.user_id, token=token)
        )
    except FormError as exc:
        return await _order_page(request, user, token, error=exc.message, status_code=exc.status)
    except NotFoundError:
        return await _pay_page(request, user, error=_("There is no order with that code."), status_code=404)
    params = {"token": token, "key": key}
    summary = _("Pay %(merchant)s")
    return await confirm_owned(
        request, user, "pay-order", order, params, summary, merchant=order["merchant_name"]
    )


@stepup.handler("pay-order")
async def _run_pay_order(request: Request, user: WebUser, action: stepup.Action) -> Response:
    """Pay the order once (the form's key makes a repeat get the same answer); a refusal (risk,
    funds, expiry) shows on the order's page and nothing is paid."""
    ctx = user.ctx
    token, where = action.params["token"], presence(request)
    try:
        paid = await run_write(
            ctx,
            lambda conn: keep_refusal(pay.confirm)(
                conn,
                ctx.ledger,
                idempotency_key=action.params["key"],
                user_id=user.user_id,
                token=token,
                risk=ctx.risk,
                presence=where,
            ),
        )
        unwrap(paid)
    except DomainError as exc:
        return await _order_page(
            request, user, token, error=refusal_message(exc), status_code=refusal_status(exc)
        )
    return RedirectResponse(f"/app/wallet/pay/orders/{token}?notice=paid", status_code=303)
