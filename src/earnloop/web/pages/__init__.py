"""The app's pages, one module per area; ``ROUTERS`` is the order they are mounted in."""

from __future__ import annotations

from fastapi import APIRouter

from earnloop.web.pages import (
    account,
    credit,
    einvoice,
    explore,
    games,
    home,
    passkeys,
    progress,
    shopping,
    wallet,
    wallet_donate,
    wallet_holds,
    wallet_pay,
    wallet_withdraw,
)

ROUTERS: tuple[APIRouter, ...] = (
    home.router,
    account.router,
    games.router,
    progress.router,
    explore.router,
    shopping.router,
    einvoice.router,
    wallet.router,
    wallet_pay.router,
    wallet_donate.router,
    wallet_withdraw.router,
    wallet_holds.router,
    credit.router,
    passkeys.router,
)
