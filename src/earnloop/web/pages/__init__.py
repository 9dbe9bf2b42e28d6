"""The app's pages, one module per area; ``ROUTERS`` is the order they are mounted in."""

from __future__ import annotations

from fastapi import APIRouter

from earnloop.web.pages import einvoice, games, home, progress, shopping

ROUTERS: tuple[APIRouter, ...] = (
    home.router,
    games.router,
    progress.router,
    shopping.router,
    einvoice.router,
)
