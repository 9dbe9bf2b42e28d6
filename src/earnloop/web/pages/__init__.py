"""The app's pages, one module per area; ``ROUTERS`` is the order they are mounted in."""

from __future__ import annotations

from fastapi import APIRouter

from earnloop.web.pages import account, einvoice, explore, games, home, passkeys, progress, shopping, wallet

ROUTERS: tuple[APIRouter, ...] = (
    home.router,
    account.router,
    games.router,
    progress.router,
    explore.router,
    shopping.router,
    einvoice.router,
    wallet.router,
    passkeys.router,
)
