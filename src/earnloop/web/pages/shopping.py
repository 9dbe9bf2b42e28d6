"""Shopping: ``/app/shopping`` — the partner stores with their cashback rates and running campaigns,
and the user's purchases as they stand (pending until the store's lock period has passed, confirmed,
or reversed and why); the click-out ``POST /app/shop/{id}``: the affiliate service records the
signed-in user's click — so the store's conversion pays them — and the browser goes on to the store."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from earnloop.affiliate import service as affiliate
from earnloop.api.context import run_read
from earnloop.api.types import Id
from earnloop.catalog import service as catalog
from earnloop.wallet.cashback import service as cashback
from earnloop.web import i18n, rewards
from earnloop.web.pages.games import campaign_views, click_out
from earnloop.web.session import SignedIn
from earnloop.web.templating import render

router = APIRouter()
SOURCE = "shopping"  # the affiliate earn path's cashback source
PURCHASES_SHOWN = 100
_REASONS = {"declined": rewards.ORDER_DECLINED, "reversed": rewards.ORDER_REVERSED}


def _stores(
    conn: Connection, merchants: list[dict[str, Any]], user_id: int, now_ns: int, lang: str
) -> list[dict[str, Any]]:
    """The partner stores that take click-outs, those in a running 2x zone first."""
    campaigns = catalog.list_campaigns(conn, active_at_ns=now_ns)
    uses = catalog.uses_of_user(conn, user_id, "campaign")
    stores = []
    for m in merchants:
        if "{click_id}" not in m["tracking_template"]:
            continue  # no tracking link: purchases there earn only through e-invoices
        running = campaign_views(campaigns, m["key"], "merchants", uses, lang)
        rates = sorted(m["rates"].items(), key=lambda item: (item[0] != "default", item[0]))
        stores.append(
            {
                "merchant_id": m["merchant_id"],
                "name": m["name"],
                "category": m["category"],
                "lock_period_days": m["lock_period_days"],
                "rates": [(category, rewards.percent(bps, lang)) for category, bps in rates],
                "campaigns": running,
                "boosted": any(c["two_x_zone"] for c in running),
            }
        )
    return sorted(stores, key=lambda store: not store["boosted"])


def _purchases(
    conn: Connection, merchants: list[dict[str, Any]], user_id: int, now_ns: int
) -> list[dict[str, Any]]:
    """The user's orders, newest first, each with its reward as it stands."""
    folded = rewards.fold(cashback.entries_of_user(conn, user_id, source=SOURCE))
    names = {m["merchant_id"]: m["name"] for m in merchants}
    purchases = []
    for conversion in affiliate.list_conversions(conn, user_id=user_id, limit=PURCHASES_SHOWN):
        base = next((p for p in conversion["parts"] if p["part"] == "base"), None)
        reward = None if base is None else folded.get(base["ref"])
        if reward is not None:
            reason = _REASONS.get(conversion["status"], rewards.ORDER_REVERSED)
            reward = rewards.explained(conn, SOURCE, reward, reason, now_ns)
        purchases.append({**conversion, "store": names.get(conversion["merchant_id"], ""), "reward": reward})
    return purchases


def _page(conn: Connection, user_id: int, now_ns: int, lang: str) -> dict[str, Any]:
    merchants = catalog.list_merchants(conn)
    return {
        "stores": _stores(conn, merchants, user_id, now_ns, lang),
        "purchases": _purchases(conn, merchants, user_id, now_ns),
    }


@router.get("/app/shopping")
async def shopping(request: Request, user: SignedIn) -> Response:
    lang, now_ns = i18n.negotiate(request), user.ctx.ledger.clock.now_ns()
    view = await run_read(user.ctx, lambda conn: _page(conn, user.user_id, now_ns, lang))
    return render(request, "shopping.html", {"nav": "shopping", **view})


@router.post("/app/shop/{merchant_id}")
async def shop(request: Request, merchant_id: Id, user: SignedIn) -> Response:
    """Record the user's click on the store (the affiliate service, as ``/go/shop/{id}`` does for the
    API) and send the browser to the store's tracking link."""

    def record(conn: Connection, user_agent: str, address: str, now_ns: int) -> dict[str, Any]:
        return affiliate.record_click(
            conn,
            user_id=user.user_id,
            merchant_id=merchant_id,
            user_agent=user_agent,
            client_ip=address,
            now_ns=now_ns,
        )

    return await click_out(request, user, "shopping", record)
