"""The app's pages, one module per area; ``ROUTERS`` is the order they are mounted in."""

from __future__ import annotations

from fastapi import APIRouter

from earnloop.web.pages import explore, home, passkeys, wallet

ROUTERS: tuple[APIRouter, ...] = (home.router, explore.router, passkeys.router, wallet.router)
