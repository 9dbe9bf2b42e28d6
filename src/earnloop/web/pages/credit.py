"""My credit (``/app/credit``): the user's score now (computed on demand when none is fresh), the
sub-score of each dimension, the top reasons in plain words and the privileges the score's band
unlocks — from :mod:`earnloop.credit.service`. Every sentence credit can show is listed here for the
catalog (``CREDIT_TEXTS``; a test keeps it in step with the feature catalogue)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from earnloop.api.context import run_write
from earnloop.credit import service as credit
from earnloop.web.pages.wallet_forms import _
from earnloop.web.session import SignedIn
from earnloop.web.templating import render

router = APIRouter()
DIMENSIONS: dict[str, str] = {
    "identity": _("Identity and profile"),
    "behaviour": _("Behaviour"),
    "payment_history": _("Payment history"),
    "connections": _("Connections"),
    "capacity": _("Assets and capacity"),
}
BANDS: dict[str, str] = {
    "poor": _("Poor"),
    "fair": _("Fair"),
    "good": _("Good"),
    "very_good": _("Very good"),
    "excellent": _("Excellent"),
}
# The reasons (credit/features.py, good then bad) and the privileges (credit/privileges.py), as shown.
CREDIT_TEXTS = (
    _("your account has a long history"),
    _("your account is new"),
    _("your profile is complete"),
    _("your profile is incomplete"),
    _("you protect payments with a passkey"),
    _("you have not added a passkey"),
    _("you use the app regularly"),
    _("you rarely use the app"),
    _("your activity is steady"),
    _("your activity comes in bursts"),
    _("you earn in several ways"),
    _("you earn in only one way"),
    _("your cashback is rarely reversed"),
    _("much of your cashback was reversed"),
    _("you repaid all cashback reversals on time"),
    _("you were late repaying what you owed"),
    _("you owe nothing"),
    _("you have an unpaid balance"),
    _("you have no overdue payment"),
    _("a payment is overdue"),
    _("you confirm deliveries on time"),
    _("you confirm deliveries late"),
    _("your devices are not shared with flagged accounts"),
    _("a device you use is shared with flagged accounts"),
    _("no payment of yours was refused for safety"),
    _("some of your actions were refused for safety"),
    _("people you invited are in good standing"),
    _("people you invited were flagged"),
    _("you keep a healthy balance"),
    _("your balance is usually low"),
    _("you earn steadily"),
    _("you have earned little recently"),
    _("you pay at partner stores"),
    _("you rarely pay with your wallet"),
    _("deposit-free rentals"),
    _("reduced deposits"),
    _("faster cashback release"),
    _("a credit line"),
    _("a higher withdrawal limit"),
)
# A deposit hold's credit decision, by rule (the holds page shows it with the reasons).
DECISIONS: dict[str, str] = {
    "min_credit_score": _("No deposit: your credit score %(score)s reaches this deposit's threshold."),
    "deposit_free": _("No deposit: your credit score %(score)s unlocks deposit-free rentals."),
    "below_threshold": _("A deposit is needed: your credit score is %(score)s."),
    "no_score": _("A deposit is needed: you have no credit score yet."),
}


def _view(conn: Connection, user_id: int, now_ns: int) -> dict[str, Any]:
    view = credit.credit_view(conn, user_id, now_ns=now_ns)
    scored, privilege = view.score, view.privilege
    return {
        "score": scored,
        "reasons": [] if scored is None else list(scored.top_reasons()),
        "privilege": privilege,
        "unlocked": [] if privilege is None else privilege.unlocked(),
    }


@router.get("/app/credit")
async def credit_page(request: Request, user: SignedIn) -> Response:
    ctx = user.ctx
    context = await run_write(ctx, lambda conn: _view(conn, user.user_id, ctx.ledger.clock.now_ns()))
    context |= {"nav": "credit", "dimensions": DIMENSIONS, "bands": BANDS}
    return render(request, "credit.html", context)
