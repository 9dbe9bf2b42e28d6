"""A request body over ``EARNLOOP_MAX_REQUEST_BYTES`` is refused with 413 problem+json and nothing of it
is recorded — whether it declares its length or streams in chunks; smaller bodies reach the routes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from earnloop.api.app import create_app
from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.tracking.models import tracking_postbacks
from tests.conftest import DbTarget
from tests.live_server import serve

LIMIT = 4096


@pytest.fixture
def small_limit_server(db: Database, db_target: DbTarget, clock: ManualClock) -> Iterator[str]:
    settings = Settings(database_url=db_target.url, max_request_bytes=LIMIT)
    with serve(create_app(settings, db=db, clock=clock)) as base_url:
        yield base_url


def _recorded(db: Database) -> int:
    with db.uow(write=False) as conn:
        return int(conn.execute(select(func.count()).select_from(tracking_postbacks)).scalar_one())


def _assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == f"a request body is at most {LIMIT} bytes"


def test_a_declared_oversized_body_is_refused_before_the_route(small_limit_server: str, db: Database) -> None:
    response = httpx.post(f"{small_limit_server}/postbacks/earnloop", content=b"x" * (LIMIT + 1))
    _assert_too_large(response)
    assert _recorded(db) == 0


def test_a_streamed_oversized_body_is_refused_while_it_arrives(small_limit_server: str, db: Database) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b"y" * 1024

    response = httpx.post(f"{small_limit_server}/postbacks/earnloop", content=chunks())
    assert response.request.headers.get("transfer-encoding") == "chunked"
    _assert_too_large(response)
    assert _recorded(db) == 0


def test_a_body_within_the_limit_reaches_the_route(small_limit_server: str, db: Database) -> None:
    response = httpx.post(f"{small_limit_server}/postbacks/tapjoy", content=b"{}" + b" " * (LIMIT - 2))
    assert response.status_code == 503  # no Tapjoy secret configured: judged and recorded by the route
    assert response.json()["reason_code"] == "not_configured"
    assert _recorded(db) == 1
