"""Property-based API tests over the OpenAPI document (issue 13, acceptance 3): schemathesis generates
requests for EVERY operation from its schema and sends them over real HTTP to the running app, with
seeded credentials (admin token, a user's token, a merchant's API key), on SQLite and PostgreSQL.

Each response must be no server error (5xx), carry a status code the operation documents, a content
type it documents, and a body that matches the documented schema. The example count per operation is
bounded and the examples are derandomized, so the run is repeatable and short."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from earnloop.api.app import create_app
from earnloop.config import Settings
from earnloop.ledger.clock import ManualClock
from earnloop.risk.feed_signing import generate_key_file
from tests.conftest import ADMIN_TOKEN, reset_ledger
from tests.live_server import client, serve

MAX_EXAMPLES = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
USER_PREFIXES = ("/v1/me/", "/v1/affiliate/", "/go/")


@dataclass(frozen=True)
class Live:
    base_url: str
    user_token: str
    merchant_key: str

    def headers_for(self, path: str) -> dict[str, str]:
        """The credential an operation's caller would hold: the user's on the user's routes, the admin's
        elsewhere; the merchant key always (partner routes read `X-Api-Key`)."""
        token = self.user_token if path.startswith(USER_PREFIXES) else ADMIN_TOKEN
        return {"Authorization": f"Bearer {token}", "X-Api-Key": self.merchant_key}


def _seed(base_url: str) -> Live:
    with client(base_url, ADMIN_TOKEN) as admin:
        user = admin.post("/v1/users", json={"handle": "fuzz-user"}).json()
        merchant = admin.post(
            "/v1/partners", json={"name": "Fuzz shop", "kind": "merchant", "settlement_currency": "TWD"}
        ).json()
        with client(base_url, user["token"]) as http:
            assert http.post("/v1/me/wallets/TWD").status_code == 200
        funded = admin.post(
            f"/v1/admin/users/{user['user_id']}/wallets/TWD/adjustments",
            json={"amount": 100_000, "direction": "credit", "reason": "fuzz funds"},
            headers={"Idempotency-Key": "fuzz-funds"},
        )
        assert funded.status_code == 200, funded.text
    return Live(base_url, user["token"], merchant["api_key"])


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def live(request: pytest.FixtureRequest) -> Iterator[Live]:
    target = request.getfixturevalue(f"{request.param}_target")
    db = target.open()
    reset_ledger(db)
    keys = tempfile.TemporaryDirectory(prefix="fuzz-feed-")
    feed_key_file = str(Path(keys.name) / "feed.pem")
    generate_key_file(feed_key_file)  # the operator's feed export signs with it
    settings = Settings(
        database_url=target.url, admin_token=ADMIN_TOKEN, risk_feed_signing_key_file=feed_key_file
    )
    app = create_app(settings, db=db, clock=ManualClock())
    try:
        with serve(app) as base_url:
            yield _seed(base_url)
    finally:
        db.dispose()
        keys.cleanup()


def _document() -> dict[str, Any]:
    """The OpenAPI document, as the app serves it (built without a database: nothing is opened)."""
    unopened = Path(tempfile.gettempdir()) / "earnloop-openapi-unopened.db"
    settings = Settings(database_url=f"sqlite:///{unopened}", admin_token=ADMIN_TOKEN)
    return create_app(settings, check_schema=False).openapi()


# One test per operation, generated from the document (the live server serves the same one: checked below)
schema = schemathesis.openapi.from_dict(_document())


def test_the_served_document_is_the_one_tested(live: Live) -> None:
    assert httpx.get(f"{live.base_url}/openapi.json", timeout=30).json() == _document()


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case: schemathesis.Case, live: Live) -> None:
    case.call_and_validate(base_url=live.base_url, headers=live.headers_for(case.path), checks=CHECKS)
