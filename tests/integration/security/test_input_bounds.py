"""Input bounds over real HTTP (issue 13, items 7-9): integers beyond 64 bits in bodies and query
strings, JSON nested thousands deep, chunked bodies over the limit, anonymous bodies over the small
limit, loosely typed money and unsupported currencies all get a 4xx problem+json, never a 500, and
change nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from earnloop.api.app import create_app
from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from tests.conftest import ADMIN_TOKEN, DbTarget
from tests.live_server import client, serve

HUGE = 1 << 64
PROBLEM = "application/problem+json"


def _assert_problem(response: httpx.Response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    if field is not None:
        names = [p["name"] for p in response.json().get("invalid_params", [])]
        assert field in names, names


def _user(api: httpx.Client, handle: str = "bounds-user") -> tuple[int, str]:
    created = api.post("/v1/users", json={"handle": handle})
    assert created.status_code == 201, created.text
    return created.json()["user_id"], created.json()["token"]


# -- item 7: integers beyond 64 bits, deep JSON ------------------------------------------------------------


@pytest.mark.parametrize("field", ["user_id", "game_id", "merchant_id"])
def test_an_integer_beyond_64_bits_in_a_body_is_refused_naming_the_field(
    api: httpx.Client, field: str
) -> None:
    body = {"user_id": 1, "game_id": 1, field: HUGE}
    _assert_problem(api.post("/v1/admin/catalog/price", json=body), 422, f"body.{field}")


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/v1/admin/affiliate/conversions", "user_id"),
        ("/v1/admin/affiliate/conversions", "merchant_id"),
        ("/v1/admin/affiliate/requests", "merchant_id"),
        ("/v1/admin/webhooks/deliveries", "partner_id"),
        ("/v1/admin/deposit-policies", "partner_id"),
    ],
)
def test_an_integer_beyond_64_bits_in_a_query_is_refused_naming_it(
    api: httpx.Client, path: str, param: str
) -> None:
    response = api.get(path, params={param: str(HUGE)})
    _assert_problem(response, 422, f"query.{param}")


def test_an_integer_beyond_64_bits_in_a_path_is_refused(api: httpx.Client) -> None:
    response = api.post(
        f"/v1/admin/users/{HUGE}/wallets/TWD/adjustments",
        json={"amount": 1, "direction": "credit", "reason": "r"},
        headers={"Idempotency-Key": "k-huge-path"},
    )
    _assert_problem(response, 422, "path.user_id")


DEEP = 5000


def test_json_nested_thousands_deep_into_the_catalog_import_is_refused(api: httpx.Client) -> None:
    body = "[" * DEEP + "]" * DEEP
    response = api.post(
        "/v1/admin/catalog/import?format=json",
        content=body.encode(),
        headers={"content-type": "application/json"},
    )
    _assert_problem(response, 422)
    assert "nested" in response.json()["detail"]


def test_json_nested_deep_into_a_model_route_is_refused(api: httpx.Client) -> None:
    body = '{"handle": ' + "[" * DEEP + "]" * DEEP + "}"
    response = api.post("/v1/users", content=body.encode(), headers={"content-type": "application/json"})
    _assert_problem(response, 422)
    assert "nested" in response.json()["detail"]


def test_json_nested_deep_in_a_postback_is_refused(api: httpx.Client) -> None:
    body = '{"a": ' + "{" * 200 + "}" * 200 + "}"
    response = httpx.post(
        f"{api.base_url}/affiliate/postbacks/1", content=body, headers={"content-type": "application/json"}
    )
    _assert_problem(response, 422)


def test_a_json_body_that_is_not_utf8_is_refused_as_documented(api: httpx.Client) -> None:
    response = api.post(
        "/v1/users", content=b'{"handle": "\xff\xfe"}', headers={"content-type": "application/json"}
    )
    _assert_problem(response, 422)  # was an undocumented 400 (schemathesis found it)


# -- item 8: chunked bodies, anonymous bodies -------------------------------------------------------------

LIMIT = 4096


@pytest.fixture
def small_limits(db: Database, db_target: DbTarget, clock: ManualClock) -> Iterator[str]:
    settings = Settings(
        database_url=db_target.url,
        admin_token=ADMIN_TOKEN,
        max_request_bytes=LIMIT * 4,
        max_anonymous_request_bytes=LIMIT,
    )
    with serve(create_app(settings, db=db, clock=clock)) as base_url:
        yield base_url


def _chunks(total_bytes: int) -> Iterator[bytes]:
    for _ in range(total_bytes // 1024):
        yield b" " * 1024


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/users"),  # FastAPI reads the body for its model
        ("POST", "/v1/admin/catalog/import"),  # the route reads the body itself
        ("POST", "/v1/me/wallets/TWD"),  # the route never reads a body
        ("GET", "/healthz"),
    ],
)
def test_a_chunked_body_over_the_limit_gets_413_on_every_route(
    small_limits: str, method: str, path: str
) -> None:
    with client(small_limits, ADMIN_TOKEN) as http:
        response = http.request(method, path, content=_chunks(LIMIT * 4 + 1024))
    assert response.request.headers.get("transfer-encoding") == "chunked"
    _assert_problem(response, 413)


def test_a_sized_body_over_the_limit_gets_413(small_limits: str) -> None:
    with client(small_limits, ADMIN_TOKEN) as http:
        response = http.post("/v1/users", content=b" " * (LIMIT * 4 + 1))
    _assert_problem(response, 413)


def test_an_anonymous_body_over_the_small_limit_is_refused(small_limits: str) -> None:
    big = b" " * (LIMIT + 1)
    sized = httpx.post(f"{small_limits}/v1/users", content=big)
    _assert_problem(sized, 413)
    chunked = httpx.post(f"{small_limits}/v1/users", content=_chunks(LIMIT + 1024))
    _assert_problem(chunked, 413)
    # with credentials the larger limit applies: the route answers (here: the body is not JSON)
    with client(small_limits, ADMIN_TOKEN) as http:
        assert http.post("/v1/users", content=big).status_code == 422


def test_postback_receivers_keep_their_own_limit(small_limits: str) -> None:
    response = httpx.post(f"{small_limits}/postbacks/tapjoy", content=b"{}" + b" " * (LIMIT * 2))
    assert response.status_code == 503  # judged by the route (no secret configured), not refused at 413
    assert response.json()["reason_code"] == "not_configured"


# -- item 9: strict money types, ISO 4217 ----------------------------------------------------------------


@pytest.mark.parametrize("amount", [True, "1", 1.0, HUGE])
def test_a_loosely_typed_amount_is_refused_and_moves_nothing(api: httpx.Client, amount: object) -> None:
    user_id, token = _user(api)
    with client(str(api.base_url), token) as http:
        assert http.post("/v1/me/wallets/TWD").status_code == 200
    response = api.post(
        f"/v1/admin/users/{user_id}/wallets/TWD/adjustments",
        json={"amount": amount, "direction": "credit", "reason": "loose"},
        headers={"Idempotency-Key": f"k-{amount!r}"},
    )
    _assert_problem(response, 422, "body.amount")
    with client(str(api.base_url), token) as http:
        wallet = http.get("/v1/me/wallets/TWD")
    assert wallet.json()["available"] == 0


@pytest.mark.parametrize("user_id", [True, "1", 1.0])
def test_a_loosely_typed_id_in_a_body_is_refused(api: httpx.Client, user_id: object) -> None:
    response = api.post("/v1/admin/catalog/price", json={"user_id": user_id, "game_id": 1})
    _assert_problem(response, 422, "body.user_id")


@pytest.mark.parametrize("code", ["XXX", "BTC", "XTS", "CLF", "XAU", "usn"])
def test_a_partner_cannot_settle_in_an_unsupported_currency(api: httpx.Client, code: str) -> None:
    response = api.post("/v1/partners", json={"name": "p", "kind": "merchant", "settlement_currency": code})
    _assert_problem(response, 422, "body.settlement_currency")


def test_the_openapi_document_lists_the_supported_currencies(api: httpx.Client) -> None:
    doc = api.get("/openapi.json").json()
    schema = doc["components"]["schemas"]["PartnerIn"]["properties"]["settlement_currency"]
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    codes = set(schema["enum"])
    assert {"TWD", "USD", "JPY", "EUR", "KWD"} <= codes
    assert not codes & {"XXX", "XTS", "BTC", "CLF", "XAU", "USN"}
    for code in ("KWD", "JPY"):  # a schema-valid request is accepted
        created = api.post(
            "/v1/partners", json={"name": code, "kind": "merchant", "settlement_currency": code}
        )
        assert created.status_code == 201, created.text
