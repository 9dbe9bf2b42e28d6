"""The wallet (``/app/wallet``): the balance in each currency (available, on its way, held, owed) and
the history of the user's ledger movements, newest first, each with a readable label; links to paying,
donating, withdrawing and the deposit holds waiting for the user. The flows live in ``wallet_pay``,
``wallet_donate``, ``wallet_withdraw`` and ``wallet_holds`` (each its own router in ``pages.ROUTERS``)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from earnloop.api.context import AppContext, run_read
from earnloop.wallet import service
from earnloop.wallet.holds import service as holds
from earnloop.web.pages.wallet_forms import _
from earnloop.web.session import SignedIn
from earnloop.web.templating import render

router = APIRouter()

HISTORY_SHOWN = 30
# a ledger movement's kind (``earnloop.wallet.chart.describe``) → what the history calls it
LABELS: dict[str, str] = {
    "cashback_pending": _("Cashback on its way"),
    "cashback_confirmed": _("Cashback confirmed"),
    "cashback_reversed": _("Cashback cancelled"),
    "clawback": _("Cashback taken back after a refund"),
    "debt_recorded": _("Amount owed after a reversal"),
    "debt_repaid": _("Amount owed repaid"),
    "adjustment_credit": _("Adjustment by support"),
    "adjustment_debit": _("Adjustment by support"),
    "payment": _("Payment at a store"),
    "payment_fee": _("Payment fee"),
    "refund": _("Refund from a store"),
    "escrow_hold": _("Payment held until delivery"),
    "escrow_release": _("Payment released to the seller"),
    "escrow_refund": _("Held payment refunded"),
    "deposit_hold": _("Deposit held"),
    "deposit_capture": _("Deposit charged"),
    "deposit_release": _("Deposit released"),
    "donation": _("Donation"),
    "withdrawal_hold": _("Withdrawal in progress"),
    "withdrawal_paid": _("Withdrawal paid out"),
    "withdrawal_returned": _("Withdrawal returned"),
    "fx_out": _("Currency exchange (out)"),
    "fx_in": _("Currency exchange (in)"),
}
OTHER = _("Other movement")
NOTICES: dict[str, str] = {
    "donated": _("Thank you! Your donation was received."),
    "paid": _("Paid. The store has been told."),
}


@dataclass(frozen=True, slots=True)
class Line:
    """One row of the history as the page shows it."""

    at_ns: int
    label: str
    amount: int
    currency: str
    pending: bool


@dataclass(frozen=True, slots=True)
class Overview:
    balances: list[service.WalletView]
    history: list[Line]
    holds_waiting: int


def overview(conn: Connection, ctx: AppContext, user_id: int) -> Overview:
    """Every wallet of the user, their merged history (newest first) and the hold requests waiting."""
    codes = service.currencies_of(conn, user_id)
    balances = [service.view(conn, ctx.ledger, user_id, code) for code in codes]
    lines = [
        Line(e.timestamp_ns, LABELS.get(e.kind, OTHER), e.amount, code, e.state == "pending")
        for code in codes
        for e in service.history(conn, ctx.ledger, user_id, code, limit=HISTORY_SHOWN)
        if e.amount != 0
    ]
    lines.sort(key=lambda line: line.at_ns, reverse=True)
    waiting = sum(1 for h in holds.list_user_holds(conn, ctx.ledger, user_id) if h["state"] == "requested")
    return Overview(balances, lines[:HISTORY_SHOWN], waiting)


@router.get("/app/wallet")
async def wallet_page(request: Request, user: SignedIn, notice: str = "") -> Response:
    found = await run_read(user.ctx, lambda conn: overview(conn, user.ctx, user.user_id))
    return render(
        request,
        "wallet.html",
        {"nav": "wallet", "wallet": found, "notice": NOTICES.get(notice)},
    )
