"""The served site: the API (:func:`earnloop.api.app.create_app`) with the consumer app mounted on it.
``earnloop serve`` and the demo run this; API-only tests may keep using ``create_app``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from earnloop.api.app import create_app
from earnloop.runtime import tune_gc
from earnloop.web.install import install


def create_site(*args: Any, **kwargs: Any) -> FastAPI:
    """``create_app(*args, **kwargs)`` with the app at ``/app``."""
    app = create_app(*args, **kwargs)
    install(app)
    return app


def create_served_app() -> FastAPI:
    """The site for ``earnloop serve`` (uvicorn calls it in each worker process), then the process-level
    tuning of a long-running server (:func:`earnloop.runtime.tune_gc`)."""
    app = create_site()
    tune_gc()
    return app
