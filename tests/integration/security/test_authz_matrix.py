"""The authorization matrix: every operation of the live OpenAPI document × eight principals, over real
HTTP, on SQLite and PostgreSQL.

``ROUTES`` is the one table of who may call what: one line per operation. An operation the app serves
and the table does not name (or the converse) fails ``test_every_operation_is_in_the_table``. For each
operation and principal:

- a principal outside the allowed set gets 401 or 403 as problem+json — or 404 where the path (or
  body) names a resource of the first user or merchant (``owned``: existence is not leaked) — and the
  database is byte-for-byte unchanged by all the denied calls;
- a principal in the allowed set is not refused (no 401/403, no 5xx; the owner of an ``owned`` resource
  does not get 404). It may get a business error (409, 422…): the bodies are minimal, the point is
  who gets through;
- ``SIGNED`` receivers (postbacks, payout callbacks) authenticate the message, not the caller: every
  principal reaches them, and without a valid signature each gets a 4xx (or 503: not configured).
"""

# ruff: noqa: E501 - ROUTES keeps one operation per line, however long, so that it reads as a table

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from string import Formatter
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

import earnloop.tables  # noqa: F401 - every domain's tables, for the fingerprint
from earnloop.db.metadata import metadata
from tests.integration.security.authz_world import (
    ADMIN,
    ANON,
    BARCODE,
    CARRIER_CODE,
    CHARITY,
    CURRENCY,
    MERCHANT,
    OTHER_MERCHANT,
    OTHER_USER,
    PRINCIPALS,
    PUBLISHER,
    RISK,
    STRATEGY,
    USER,
    World,
    live_world,
    postgres_database,
    sqlite_database,
)

pytestmark = pytest.mark.xdist_group("authz_matrix")

Ids = Mapping[str, Any]

# -- who ----------------------------------------------------------------------------------------------
EVERYONE = frozenset(PRINCIPALS)
USERS = frozenset({USER, OTHER_USER})
OWNER = frozenset({USER})  # with owned=True: the resource is the first user's
MERCHANTS = frozenset({MERCHANT, OTHER_MERCHANT})
SELLER = frozenset({MERCHANT})  # with owned=True: the resource is the first merchant's
PARTNERS = frozenset({MERCHANT, OTHER_MERCHANT, CHARITY, PUBLISHER})
OPERATOR = frozenset({ADMIN})
RISK_READERS = frozenset({ADMIN, RISK})  # strategies: the admin token reads, a named operator changes
RISK_OPERATOR = frozenset({RISK})
SIGNED = frozenset({"signed"})  # authenticated by the message's signature, whoever sends it


@dataclass(frozen=True)
class Rule:
    """Who may call an operation, and how to fill it in. ``path`` maps a path parameter to the key of
    ``World.ids`` when its name is not that key; ``body``/``query`` build the request from the ids."""

    allowed: frozenset[str]
    owned: bool = False
    path: Mapping[str, str] = field(default_factory=dict)
    body: Callable[[Ids], Any] | None = None
    query: Mapping[str, Any] | None = None
    content: bytes | None = None
    xfail: str | None = None


R = Rule
CATALOG_MERCHANT = {"merchant_id": "catalog_merchant_id"}
PARTNER_ORDER = {"order_id": "merchant_order_id"}
PUBLISHER_PARTNER = {"partner_id": "game_publisher_id"}
EMPTY_JSON = b"{}"
PHONE_NUMBER = "0912345678"
FEED_PUBLIC_KEY = base64.b64encode(bytes(range(32))).decode()

# fmt: off
ROUTES: dict[tuple[str, str], Rule] = {
    # public, and receivers that check the message's signature
    ("GET", "/healthz"): R(EVERYONE),
    ("GET", "/readyz"): R(EVERYONE),
    ("POST", "/postbacks/{provider}"): R(SIGNED, body=lambda i: {"click_id": "c", "transaction_id": "t"}),
    ("GET", "/postbacks/{provider}"): R(SIGNED, query={"click_id": "c", "transaction_id": "t"}),
    ("POST", "/affiliate/postbacks/{merchant_id}"): R(SIGNED, path=CATALOG_MERCHANT, body=lambda i: {"order_id": "o-1", "status": "approved", "amount": 100}),
    ("POST", "/v1/payouts/callbacks"): R(SIGNED, body=lambda i: {"request_id": "wd_x", "status": "paid"}),
    ("GET", "/v1/charities/{charity_id}/campaigns"): R(EVERYONE),
    ("GET", "/v1/campaigns/{campaign_id}"): R(EVERYONE, path={"campaign_id": "charity_campaign_id"}),
    ("GET", "/v1/charities/{charity_id}/statement"): R(EVERYONE, query={"currency": CURRENCY}),
    ("GET", "/v1/catalog/games"): R(EVERYONE),
    ("GET", "/v1/catalog/games/{game_id}"): R(EVERYONE),
    ("GET", "/v1/catalog/merchants"): R(EVERYONE),
    ("GET", "/v1/catalog/campaigns"): R(EVERYONE),
    # any signed-in user
    ("GET", "/go/{game_id}"): R(USERS),
    ("GET", "/go/shop/{merchant_id}"): R(USERS, path=CATALOG_MERCHANT),
    ("GET", "/v1/affiliate/conversions"): R(USERS),
    ("POST", "/v1/me/wallets/{currency}"): R(USERS),
    ("GET", "/v1/me/wallets/{currency}"): R(USERS),
    ("GET", "/v1/me/wallets/{currency}/history"): R(USERS),
    ("POST", "/v1/me/pay-codes"): R(USERS, body=lambda i: {"currency": CURRENCY}),
    ("GET", "/v1/fx/quote"): R(USERS, query={"from": CURRENCY, "to": "USD", "amount": 100}),
    ("POST", "/v1/me/fx/conversions"): R(USERS, body=lambda i: {"from_currency": CURRENCY, "to_currency": "USD", "amount": 1}),
    ("GET", "/v1/me/escrow/trades"): R(USERS),
    ("GET", "/v1/me/credit-line"): R(USERS, query={"currency": CURRENCY}),
    ("GET", "/v1/me/credit-line/statement"): R(USERS, query={"currency": CURRENCY}),
    ("POST", "/v1/me/credit-line/quote"): R(USERS, body=lambda i: {"currency": CURRENCY, "merchant_id": i["merchant_id"], "amount": 100}),
    ("POST", "/v1/me/credit-line/draw"): R(USERS, body=lambda i: {"currency": CURRENCY, "merchant_id": i["merchant_id"], "amount": 100, "fee": 0}),
    ("POST", "/v1/me/credit-line/repay"): R(USERS, body=lambda i: {"currency": CURRENCY}),
    ("GET", "/v1/me/holds"): R(USERS),
    ("GET", "/v1/me/payout-destinations"): R(USERS),
    ("POST", "/v1/me/payout-destinations"): R(USERS, body=lambda i: {"kind": "ewallet", "institution": "pay", "holder_name": "H", "account_number": "87654321"}),
    ("GET", "/v1/me/withdrawals"): R(USERS),
    ("POST", "/v1/me/donations"): R(USERS, body=lambda i: {"campaign_id": i["charity_campaign_id"], "amount": 1}),
    ("GET", "/v1/me/einvoice/carriers"): R(USERS),
    ("POST", "/v1/me/einvoice/carriers"): R(USERS, body=lambda i: {"barcode": BARCODE, "verification_code": CARRIER_CODE}),
    ("GET", "/v1/me/einvoice/receipts"): R(USERS),
    # the first user's resources
    ("GET", "/v1/me/orders/{order_id}"): R(OWNER, owned=True),
    ("POST", "/v1/me/orders/{order_id}/confirm"): R(OWNER, owned=True),
    ("GET", "/v1/me/escrow/trades/{trade_id}"): R(OWNER, owned=True),
    ("POST", "/v1/me/escrow/trades/{trade_id}/pay"): R(OWNER, owned=True),
    ("POST", "/v1/me/escrow/trades/{trade_id}/confirm"): R(OWNER, owned=True),
    ("POST", "/v1/me/escrow/trades/{trade_id}/cancel"): R(OWNER, owned=True, body=lambda i: {"reason": "changed mind"}),
    ("GET", "/v1/me/holds/{hold_id}"): R(OWNER, owned=True),
    ("POST", "/v1/me/holds/{hold_id}/approve"): R(OWNER, owned=True),
    ("POST", "/v1/me/holds/{hold_id}/decline"): R(OWNER, owned=True),
    ("GET", "/v1/me/mandates"): R(USERS),
    ("POST", "/v1/me/mandates"): R(USERS, body=lambda i: {"partner_id": i["merchant_id"], "currency": CURRENCY, "total_limit": 100, "expires_in_s": 3600}),
    ("DELETE", "/v1/me/mandates/{mandate_id}"): R(OWNER, owned=True),
    ("DELETE", "/v1/me/payout-destinations/{destination_id}"): R(OWNER, owned=True, path={"destination_id": "spare_destination_id"}),
    ("POST", "/v1/me/withdrawals"): R(OWNER, owned=True, body=lambda i: {"destination_id": i["destination_id"], "currency": CURRENCY, "amount": 100}),
    ("GET", "/v1/me/withdrawals/{withdrawal_id}"): R(OWNER, owned=True),
    ("GET", "/v1/me/einvoice/carriers/{carrier_id}"): R(OWNER, owned=True),
    ("POST", "/v1/me/einvoice/carriers/{carrier_id}/sync"): R(OWNER, owned=True),
    # any merchant partner
    ("POST", "/v1/merchant/orders"): R(MERCHANTS, body=lambda i: {"order_id": "matrix-1", "amount": 100}),
    ("POST", "/v1/merchant/pay-codes/charge"): R(MERCHANTS, body=lambda i: {"code": "000000", "order_id": "charge-1", "amount": 100}),
    ("GET", "/v1/merchant/settlement"): R(MERCHANTS),
    ("POST", "/v1/partner/escrow/trades"): R(MERCHANTS, body=lambda i: {"trade_ref": "matrix-1", "amount": 100, "currency": CURRENCY}),
    # the first merchant's resources
    ("GET", "/v1/merchant/orders/{order_id}"): R(SELLER, owned=True, path=PARTNER_ORDER),
    ("POST", "/v1/merchant/orders/{order_id}/refunds"): R(SELLER, owned=True, path=PARTNER_ORDER, body=lambda i: {"amount": 1}),
    ("GET", "/v1/partner/escrow/trades/{trade_id}"): R(SELLER, owned=True),
    ("POST", "/v1/partner/escrow/trades/{trade_id}/ship"): R(SELLER, owned=True),
    ("POST", "/v1/partner/escrow/trades/{trade_id}/cancel"): R(SELLER, owned=True, body=lambda i: {"reason": "out of stock"}),
    ("POST", "/v1/partner/holds"): R(SELLER, owned=True, body=lambda i: {"product": "sedan", "user_id": i["user_id"], "currency": CURRENCY, "ref": "matrix-1"}),
    ("GET", "/v1/partner/holds/{hold_id}"): R(SELLER, owned=True),
    ("POST", "/v1/partner/holds/{hold_id}/capture"): R(SELLER, owned=True, body=lambda i: {"amount": 1, "reason": "scratch"}),
    ("POST", "/v1/partner/holds/{hold_id}/release"): R(SELLER, owned=True),
    ("GET", "/v1/partner/webhook-deliveries/{delivery_id}/attempts"): R(SELLER, owned=True),
    ("POST", "/v1/partner/webhook-events/{event_id}/replay"): R(SELLER, owned=True),
    # any partner (each its own endpoint)
    ("PUT", "/v1/partner/webhook-endpoint"): R(PARTNERS, body=lambda i: {"url": "https://partner.example/hooks"}),
    ("GET", "/v1/partner/webhook-endpoint"): R(PARTNERS),
    ("POST", "/v1/partner/webhook-secrets/rotate"): R(PARTNERS, body=lambda i: {"grace_seconds": 0}),
    ("GET", "/v1/partner/webhook-deliveries"): R(PARTNERS),
    # operators
    ("POST", "/v1/ledger/accounts"): R(OPERATOR, body=lambda i: {"accounts": [{"id": "9001", "ledger": 1, "code": 1}]}),
    ("GET", "/v1/ledger/accounts"): R(OPERATOR, query={"ids": "9000"}),
    ("POST", "/v1/ledger/transfers"): R(OPERATOR, body=lambda i: {"transfers": [{"id": "9100", "debit_account_id": "9000", "credit_account_id": "9001", "amount": 0, "ledger": 1, "code": 1}]}),
    ("GET", "/v1/ledger/transfers"): R(OPERATOR, query={"ids": "9100"}),
    ("GET", "/v1/ledger/accounts/{account_id}/balance"): R(OPERATOR),
    ("GET", "/v1/ledger/accounts/{account_id}/transfers"): R(OPERATOR),
    ("GET", "/v1/ledger/accounts/{account_id}/balances"): R(OPERATOR),
    ("POST", "/v1/users"): R(OPERATOR, body=lambda i: {"handle": "matrix-user"}),
    ("POST", "/v1/partners"): R(OPERATOR, body=lambda i: {"name": "matrix", "kind": "merchant", "settlement_currency": CURRENCY}),
    ("PUT", "/v1/admin/users/{user_id}/credit-line"): R(OPERATOR, body=lambda i: {"currency": CURRENCY, "limit": 1_000}),
    ("POST", "/v1/admin/users/{user_id}/credit-line/topup"): R(OPERATOR, body=lambda i: {"currency": CURRENCY}),
    ("POST", "/v1/admin/users/{user_id}/wallets/{currency}/adjustments"): R(OPERATOR, body=lambda i: {"amount": 1, "direction": "credit", "reason": "matrix"}),
    ("POST", "/v1/admin/cashback"): R(OPERATOR, body=lambda i: {"source": "manual", "ref": "matrix-1", "user_id": i["user_id"], "currency": CURRENCY, "amount": 1, "release_at": "2030-01-01T00:00:00Z", "funding": {"kind": "operator"}}),
    ("POST", "/v1/admin/cashback/{source}/{ref}/reverse"): R(OPERATOR),
    ("POST", "/v1/admin/fx/rates"): R(OPERATOR, body=lambda i: {"base": "USD", "quote": CURRENCY, "rate": "31.5"}),
    ("GET", "/v1/admin/fx/rates"): R(OPERATOR),
    ("PUT", "/v1/admin/merchants/{merchant_id}/pay-settings"): R(OPERATOR, body=lambda i: {"fee_bps": 100}),
    ("GET", "/v1/admin/escrow/trades/{trade_id}"): R(OPERATOR),
    ("POST", "/v1/admin/escrow/trades/{trade_id}/cancel"): R(OPERATOR, body=lambda i: {"reason": "dispute"}),
    ("PUT", "/v1/admin/deposit-policies/{product}/{currency}"): R(OPERATOR, body=lambda i: {"partner_id": i["merchant_id"], "amount": 300}),
    ("GET", "/v1/admin/deposit-policies"): R(OPERATOR),
    ("PUT", "/v1/admin/deposit-policies/{product}/{currency}/overrides/{user_id}"): R(OPERATOR, body=lambda i: {"amount": 200, "reason": "vip"}),
    ("DELETE", "/v1/admin/deposit-policies/{product}/{currency}/overrides/{user_id}"): R(OPERATOR),
    ("POST", "/v1/admin/holds"): R(OPERATOR, body=lambda i: {"product": "sedan", "user_id": i["user_id"], "currency": CURRENCY, "ref": "matrix-admin"}),
    ("GET", "/v1/admin/holds/{hold_id}"): R(OPERATOR),
    ("POST", "/v1/admin/holds/{hold_id}/capture"): R(OPERATOR, body=lambda i: {"amount": 1, "reason": "damage"}),
    ("POST", "/v1/admin/holds/{hold_id}/release"): R(OPERATOR),
    ("GET", "/v1/admin/webhooks/deliveries"): R(OPERATOR),
    ("GET", "/v1/admin/webhooks/deliveries/{delivery_id}/attempts"): R(OPERATOR),
    ("POST", "/v1/admin/webhooks/events/{event_id}/replay"): R(OPERATOR),
    ("POST", "/v1/admin/withdrawals/resolve"): R(OPERATOR),
    ("GET", "/v1/admin/withdrawals/in-review"): R(OPERATOR),
    ("POST", "/v1/admin/withdrawals/{withdrawal_id}/approve"): R(OPERATOR, body=lambda i: {"reviewer": "matrix", "note": "ok"}),
    ("POST", "/v1/admin/withdrawals/{withdrawal_id}/reject"): R(OPERATOR, body=lambda i: {"reviewer": "matrix", "note": "no"}),
    ("POST", "/v1/admin/charities/{charity_id}/campaigns"): R(OPERATOR, body=lambda i: {"name": "Matrix", "currency": CURRENCY, "goal": 100, "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-02-01T00:00:00Z"}),
    ("GET", "/v1/admin/catalog/merchants"): R(OPERATOR),
    ("PUT", "/v1/admin/catalog/merchants"): R(OPERATOR, body=lambda i: {"key": "matrix", "name": "Matrix"}),
    ("PUT", "/v1/admin/catalog/games"): R(OPERATOR, body=lambda i: {"key": "matrix", "title": "Matrix"}),
    ("GET", "/v1/admin/catalog/games"): R(OPERATOR),
    ("GET", "/v1/admin/catalog/campaigns"): R(OPERATOR),
    ("PUT", "/v1/admin/catalog/campaigns"): R(OPERATOR, body=lambda i: {"key": "matrix", "name": "Matrix"}),
    ("GET", "/v1/admin/catalog/campaigns/{campaign_id}"): R(OPERATOR, path={"campaign_id": "catalog_campaign_id"}),
    ("POST", "/v1/admin/catalog/campaigns/{campaign_id}/fund"): R(OPERATOR, path={"campaign_id": "catalog_campaign_id"}, body=lambda i: {"amount": 1}),
    ("POST", "/v1/admin/catalog/price"): R(OPERATOR, body=lambda i: {"user_id": i["user_id"], "game_id": i["game_id"]}),
    ("POST", "/v1/admin/catalog/uses"): R(OPERATOR, body=lambda i: {"subject": "campaign", "subject_id": i["catalog_campaign_id"], "user_id": i["user_id"], "ref": "matrix-1"}),
    ("POST", "/v1/admin/catalog/import"): R(OPERATOR, content=EMPTY_JSON),
    ("GET", "/v1/admin/catalog/export"): R(OPERATOR),
    ("PUT", "/v1/admin/tracking/providers/{provider}/secrets"): R(OPERATOR, body=lambda i: {"secret": "matrix-secret-0123456789abcdef"}),
    ("GET", "/v1/admin/tracking/providers/{provider}/secrets"): R(OPERATOR),
    ("PUT", "/v1/admin/tracking/partners/{partner_id}/secrets"): R(OPERATOR, path=PUBLISHER_PARTNER, body=lambda i: {"secret": "matrix-secret-0123456789abcdef"}),
    ("GET", "/v1/admin/tracking/partners/{partner_id}/secrets"): R(OPERATOR, path=PUBLISHER_PARTNER),
    ("PUT", "/v1/admin/tracking/games/{game_id}/link"): R(OPERATOR, body=lambda i: {"template": None}),
    ("GET", "/v1/admin/tracking/postbacks"): R(OPERATOR),
    ("PUT", "/v1/admin/affiliate/merchants/{merchant_id}/secrets"): R(OPERATOR, path=CATALOG_MERCHANT, body=lambda i: {"secret": "matrix-secret-0123456789abcdef"}),
    ("GET", "/v1/admin/affiliate/merchants/{merchant_id}/secrets"): R(OPERATOR, path=CATALOG_MERCHANT),
    ("POST", "/v1/admin/affiliate/merchants/{merchant_id}/report"): R(OPERATOR, path=CATALOG_MERCHANT, content=b"order_id,status,amount\n"),
    ("GET", "/v1/admin/affiliate/conversions"): R(OPERATOR),
    ("GET", "/v1/admin/affiliate/requests"): R(OPERATOR),
    # risk lists and partner feeds (operators); phone reputation (reports by users and partners, lookups by anyone signed in)
    ("POST", "/v1/risk/lists/{list_name}/entries"): R(OPERATOR, body=lambda i: {"key": "device", "value": "matrix", "reason": "matrix"}),
    ("GET", "/v1/risk/lists/{list_name}/entries"): R(OPERATOR),
    ("DELETE", "/v1/risk/lists/{list_name}/entries"): R(OPERATOR, query={"key": "device", "value": "matrix"}),
    ("GET", "/v1/risk/lists/lookup"): R(OPERATOR, query={"key": "device", "value": "matrix"}),
    ("POST", "/v1/risk/feeds/partners"): R(OPERATOR, body=lambda i: {"name": "matrix", "public_key": FEED_PUBLIC_KEY}),
    ("GET", "/v1/risk/feeds/partners"): R(OPERATOR),
    ("POST", "/v1/risk/feeds/import"): R(OPERATOR, content=EMPTY_JSON),
    ("GET", "/v1/risk/feeds/export"): R(OPERATOR),
    ("POST", "/v1/me/phone-reports"): R(USERS, body=lambda i: {"number": PHONE_NUMBER, "category": "scam"}),
    ("POST", "/v1/partner/phone-reports"): R(PARTNERS, body=lambda i: {"number": PHONE_NUMBER, "category": "scam"}),
    ("GET", "/v1/phone-reputation/{number}"): R(USERS | PARTNERS | OPERATOR),
    # risk strategies: read and dry-run by the admin token or a risk operator, changed by a risk operator
    ("GET", "/v1/risk/strategies"): R(RISK_READERS),
    ("GET", "/v1/risk/strategies/{name}"): R(RISK_READERS),
    ("GET", "/v1/risk/strategies/{name}/versions"): R(RISK_READERS),
    ("GET", "/v1/risk/strategies/{name}/versions/{version}"): R(RISK_READERS),
    ("GET", "/v1/risk/strategies/{name}/diff"): R(RISK_READERS, query={"from": 1, "to": 2}),
    ("GET", "/v1/risk/strategies/{name}/audit"): R(RISK_READERS),
    ("POST", "/v1/risk/evaluate"): R(RISK_READERS, body=lambda i: {"strategy": STRATEGY, "version": 1, "activation": {}}),
    ("POST", "/v1/risk/strategies/{name}/versions"): R(RISK_OPERATOR, body=lambda i: {"changelog": "m", "rules": [{"code": "m", "expression": "amount > 1", "outcome": "review"}]}),
    ("POST", "/v1/risk/strategies/{name}/versions/{version}/approve"): R(RISK_OPERATOR),
    ("POST", "/v1/risk/strategies/{name}/versions/{version}/rollback"): R(RISK_OPERATOR),
    ("PUT", "/v1/risk/strategies/{name}/shadow"): R(RISK_OPERATOR, body=lambda i: {"version": 2}),
    ("GET", "/v1/risk/decisions/{event_ref}/explain"): R(RISK_READERS),
    ("GET", "/v1/risk/shadow-report"): R(RISK_READERS),
    ("POST", "/v1/risk/strategies/{name}/versions/{version}/backtest"): R(RISK_OPERATOR),
    ("GET", "/v1/me/credit"): R(USERS),
    ("GET", "/v1/admin/credit/models"): R(RISK_READERS),
    ("POST", "/v1/admin/credit/models/{version}/approve"): R(RISK_OPERATOR),
    ("POST", "/v1/admin/credit/rescore"): R(RISK_READERS),
    ("GET", "/v1/admin/credit/monitor"): R(RISK_READERS),
}
# fmt: on

PATH_CONSTANTS = {
    "source": "manual",
    "ref": "matrix-1",
    "list_name": "block",
    "number": PHONE_NUMBER,
    "event_ref": "game:matrix",
}


# -- the population -----------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One server and one seeded population per database for the whole module (its own database: the
    shared test database is emptied before every test)."""
    if request.param == "sqlite":
        database = sqlite_database(Path(tmp_path_factory.mktemp("authz")))
    else:
        database = postgres_database()
    with database as db, live_world(db) as seeded:
        yield seeded


def _url(template: str, rule: Rule, ids: Ids) -> str:
    names = [name for _, name, _, _ in Formatter().parse(template) if name]
    values = {n: PATH_CONSTANTS.get(n, ids.get(rule.path.get(n, n))) for n in names}
    missing = [n for n, v in values.items() if v is None]
    assert not missing, f"{template}: no value for {missing}: add them to the rule's `path`"
    return template.format(**values)


def _request(w: World, principal: str, method: str, template: str, rule: Rule) -> httpx.Response:
    kwargs: dict[str, Any] = {"params": rule.query}
    if rule.body is not None:
        kwargs["json"] = rule.body(w.ids)
    elif rule.content is not None:
        kwargs["content"] = rule.content
    return w.call(principal, method, _url(template, rule, w.ids), follow_redirects=False, **kwargs)


def _fingerprint(w: World) -> dict[str, str]:
    """A digest of every row of every table: whatever a denied request wrote would show. PostgreSQL
    digests each table itself, in one statement (a round trip per table costs 5x more)."""
    tables = [t.name for t in metadata.sorted_tables]
    with w.db.uow(write=False) as conn:
        if not w.db.is_sqlite:
            digests = " UNION ALL ".join(
                f"SELECT '{name}', md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM \"{name}\" r"
                for name in tables
            )
            return {str(name): str(digest) for name, digest in conn.execute(text(digests))}
        return {
            table.name: hashlib.sha256(
                "\n".join(sorted(repr(tuple(row)) for row in conn.execute(select(table)))).encode()
            ).hexdigest()
            for table in metadata.sorted_tables
        }


def _changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in before if before[name] != after[name])


# -- the tests ----------------------------------------------------------------------------------------
def test_every_operation_is_in_the_table(world: World) -> None:
    document = world.http.get("/openapi.json").json()
    served = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    missing = sorted(served - ROUTES.keys())
    stale = sorted(ROUTES.keys() - served)
    assert not missing, f"operations with no line in ROUTES (say who may call them): {missing}"
    assert not stale, f"ROUTES names operations the app no longer serves: {stale}"


def _route_params() -> list[Any]:
    params = []
    for (method, template), rule in ROUTES.items():
        marks = [pytest.mark.xfail(strict=True, reason=rule.xfail)] if rule.xfail else []
        params.append(pytest.param(method, template, id=f"{method} {template}", marks=marks))
    return params


@pytest.mark.parametrize(("method", "template"), _route_params())
def test_route(world: World, method: str, template: str) -> None:
    rule = ROUTES[(method, template)]
    if rule.allowed is SIGNED:
        _check_signed(world, method, template, rule)
        return
    denied = [p for p in PRINCIPALS if p not in rule.allowed]
    before = _fingerprint(world)
    wrong = [f"{p}: {why}" for p in denied if (why := _denial_problem(world, p, method, template, rule))]
    changed = _changed(before, _fingerprint(world))
    refused = [
        f"{p}: {why}"
        for p in sorted(rule.allowed)
        if (why := _allowed_problem(world, p, method, template, rule))
    ]
    assert not wrong, f"{method} {template} let through or answered wrongly: {wrong}"
    assert not changed, f"{method} {template}: denied requests changed tables {changed}"
    assert not refused, f"{method} {template} refused an allowed principal: {refused}"


def _denial_problem(w: World, principal: str, method: str, template: str, rule: Rule) -> str | None:
    response = _request(w, principal, method, template, rule)
    denials = {401, 403, 404} if rule.owned and principal != ANON else {401, 403}
    if response.status_code not in denials:
        return f"{response.status_code} {response.text[:200]}"
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return f"{response.status_code} without problem+json"
    return None


def _allowed_problem(w: World, principal: str, method: str, template: str, rule: Rule) -> str | None:
    response = _request(w, principal, method, template, rule)
    status = response.status_code
    if status in (401, 403) or status >= 500 or (rule.owned and status == 404):
        return f"{status} {response.text[:200]}"
    return None


def _check_signed(w: World, method: str, template: str, rule: Rule) -> None:
    """Receivers record every request they refuse, so only money is compared: the ledger's tables."""
    before = _fingerprint(w)
    answers = {p: _request(w, p, method, template, rule) for p in PRINCIPALS}
    accepted = {
        p: f"{r.status_code} {r.text[:120]}"
        for p, r in answers.items()
        if not (400 <= r.status_code < 500 or r.status_code == 503)
    }
    moved = [t for t in _changed(before, _fingerprint(w)) if t.startswith("ledger_")]
    assert not accepted, f"{method} {template} answered an unsigned request with: {accepted}"
    assert not moved, f"{method} {template}: unsigned requests changed ledger tables {moved}"
