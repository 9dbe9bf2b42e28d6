"""The input bounds are structural: every integer a request can carry (path, query, JSON body) has a
64-bit bound in the OpenAPI document, every integer in a request body is a strict JSON integer, and the
one JSON reader (``earnloop.bounds.loads``) refuses deep nesting and integers beyond 64 bits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute

from earnloop import bounds
from earnloop.api.app import create_app
from earnloop.config import Settings
from earnloop.currencies import CURRENCIES, currency

INT64_MAX = (1 << 63) - 1


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    url = f"sqlite:///{tmp_path_factory.mktemp('bounds') / 'db.sqlite'}"
    return create_app(Settings(database_url=url, admin_token="t" * 32), check_schema=False)


def _integers(
    schema: Any, doc: dict[str, Any], where: str, seen: frozenset[str] = frozenset()
) -> Iterator[str]:
    """Every integer schema reachable from ``schema`` without a 64-bit bound, by its path."""
    if isinstance(schema, list):
        for i, item in enumerate(schema):
            yield from _integers(item, doc, f"{where}[{i}]", seen)
        return
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[1]
        if name not in seen:
            yield from _integers(doc["components"]["schemas"][name], doc, f"{where}->{name}", seen | {name})
        return
    if schema.get("type") == "integer":
        lo, hi = schema.get("minimum", schema.get("exclusiveMinimum")), schema.get("maximum")
        if lo is None or hi is None or lo < -(1 << 63) or hi > INT64_MAX:
            yield where
    for key, value in schema.items():
        if key in ("properties", "items", "anyOf", "oneOf", "allOf", "additionalProperties", "prefixItems"):
            yield from _integers(value, doc, f"{where}.{key}", seen)


def test_every_integer_a_request_can_carry_is_bounded_to_64_bits(app: Any) -> None:
    doc = app.openapi()
    unbounded: list[str] = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            for param in op.get("parameters", []):
                unbounded += _integers(param["schema"], doc, f"{method} {path} {param['in']}.{param['name']}")
            for media in op.get("requestBody", {}).get("content", {}).values():
                unbounded += _integers(media.get("schema", {}), doc, f"{method} {path} body")
    assert unbounded == []


def _core_ints(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, dict):
        if schema.get("type") == "int":
            yield schema
        for value in schema.values():
            yield from _core_ints(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _core_ints(item)


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside the routers FastAPI includes lazily."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (router := getattr(route, "original_router", None)) is not None:
            yield from _api_routes(router.routes)


def test_every_integer_in_a_request_body_is_strict(app: Any) -> None:
    loose: list[str] = []
    routes = list(_api_routes(app.routes))
    assert len(routes) > 100
    for route in routes:
        if not isinstance(route, APIRoute) or route.body_field is None or route.path.startswith("/v1/ledger"):
            continue  # the ledger's 128-bit numbers travel as decimal strings (ledger/schemas.py)
        adapter = route.body_field._type_adapter
        loose += [f"{route.path}: {s}" for s in _core_ints(adapter.core_schema) if not s.get("strict")]
    assert loose == []


@pytest.mark.parametrize(
    "text",
    [
        "[" * 65 + "]" * 65,
        '{"a": ' * 65 + "1" + "}" * 65,
        '{"deep": ' + "[" * 64 + "]" * 64 + "}",
    ],
)
def test_the_json_reader_refuses_deep_nesting(text: str) -> None:
    with pytest.raises(json.JSONDecodeError, match="nested deeper"):
        bounds.loads(text)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"note": "[" * 500 + '\\"{' * 100, "items": [[1], [2]]})
    assert bounds.loads(text)["items"] == [[1], [2]]
    assert bounds.loads(("[" * 64 + "]" * 64).encode()) == bounds.loads("[" * 64 + "]" * 64)


@pytest.mark.parametrize("number", [1 << 63, -(1 << 63) - 1, 10**30])
def test_the_json_reader_refuses_integers_beyond_64_bits(number: int) -> None:
    with pytest.raises(json.JSONDecodeError, match="64-bit"):
        bounds.loads(f'{{"amount": {number}}}')
    assert bounds.loads(f"[{INT64_MAX}, {-(1 << 63)}]") == [INT64_MAX, -(1 << 63)]


def test_currencies_come_from_iso_4217_without_funds_metals_or_test_codes() -> None:
    assert (currency("TWD").ledger, currency("TWD").exponent) == (901, 2)
    assert (currency("jpy").ledger, currency("JPY").exponent) == (392, 0)
    assert (currency("KWD").ledger, currency("KWD").exponent) == (414, 3)
    for code in ("XXX", "XTS", "XAU", "XDR", "CLF", "USN", "BOV", "BTC", "EURO", ""):
        assert code not in CURRENCIES
    assert len(CURRENCIES) > 140
    assert len({c.ledger for c in CURRENCIES.values()}) == len(CURRENCIES)
