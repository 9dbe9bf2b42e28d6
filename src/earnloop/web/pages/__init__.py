"""The app's pages, one module per area; ``ROUTERS`` is the order they are mounted in."""

from __future__ import annotations

from fastapi import APIRouter

from earnloop.web.pages import account, home

ROUTERS: tuple[APIRouter, ...] = (home.router, account.router)
