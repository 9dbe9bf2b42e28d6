"""Rewards that anyone could mint (issue 13, items 1 and 2), over real HTTP on SQLite and PostgreSQL.

AppsFlyer push needs its configured token (in the header AppsFlyer sends), checks ``app_id`` against the
game, and records a rejected install or event as rejected (reversing what it paid); a provider without its
secret is refused with 503; a postback pays only a game tracked by the provider that sent it; and the
``earnloop`` scheme's secrets belong to each game publisher. Requests come from AppsFlyer's published range
(``X-Forwarded-For`` through the test server's proxy layer when it trusts loopback) or from loopback, which
this app's allow-list adds to AppsFlyer's ranges.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from earnloop.auth.service import create_partner, create_user
from earnloop.catalog import service as catalog
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.risk.engine import RiskEngine
from earnloop.tracking.verifiers import APPSFLYER_PUSH_NETWORKS
from tests.conftest import ADMIN_TOKEN, Cli, DbTarget
from tests.integration.signed_post import post_signed
from tests.live_server import client, serve

AF_IP = "45.92.117.10"  # in AppsFlyer's published 45.92.116.0/22
TOKEN = "appsflyer-push-token-0123456789"
A_SECRET, B_SECRET, B_NEXT = (
    "publisher-a-secret-0123456789",
    "publisher-b-secret-0123456789",
    "b-next-0123456789",
)
ANDROID = "Mozilla/5.0 (Linux; Android 14)"


@dataclass(frozen=True)
class Scene:
    tokens: dict[str, str]  # user handle -> API token
    games: dict[str, int]  # game key -> id
    partner_a: int
    partner_b: int


@dataclass(frozen=True)
class Http:
    admin: httpx.Client
    anon: httpx.Client  # what a provider's server sends: no credential of ours


def _game(key: str, provider: str, milestones: list[str], **extra: Any) -> dict[str, Any]:
    app_store_id = extra.pop("app_store_id", None)
    return {
        "key": key,
        "title": key.title(),
        "platforms": ["ios", "android"] if app_store_id else ["android"],
        "app_store_id": app_store_id,
        "play_package": extra.pop("play_package", f"com.example.{key}"),
        "tracking_provider": provider,
        "tags": [],
        "status": "active",
        "currency": "TWD",
        "milestones": [
            {"key": m, "title": m, "reward_amount": 100 * n, "position": n}
            for n, m in enumerate(milestones, 1)
        ],
        **extra,
    }


@pytest.fixture
def scene(db: Database) -> Scene:
    with db.uow() as conn:
        tokens = {h: create_user(conn, h).secret for h in ("user1", "user2")}
        a = create_partner(conn, "publisher-a", "game_publisher", "TWD").id
        b = create_partner(conn, "publisher-b", "game_publisher", "TWD").id
        specs = [
            _game("alpha", "earnloop", ["lv5"], publisher_id=a),
            _game("beta", "earnloop", ["lv5", "lv10", "lv20"], publisher_id=b),
            _game("delta", "earnloop", ["reward"], publisher_id=a),
            _game("gamma", "appsflyer", ["install", "af_level_5"], app_store_id="1500000001"),
        ]
        games = {s["key"]: catalog.upsert_game(conn, s)["game_id"] for s in specs}
    return Scene(tokens, games, a, b)


@pytest.fixture
def http(db: Database, db_target: DbTarget, clock: ManualClock, risk: RiskEngine) -> Iterator[Http]:
    from earnloop.api.app import create_app
    from earnloop.config import Settings

    settings = Settings(
        database_url=db_target.url,
        admin_token=ADMIN_TOKEN,
        appsflyer_push_networks=[*APPSFLYER_PUSH_NETWORKS, "127.0.0.0/8"],
    )
    app = create_app(settings, db=db, clock=clock, risk=risk)  # the tests' allow-all engine (conftest)
    with serve(app) as base_url, client(base_url, ADMIN_TOKEN) as admin, client(base_url) as anon:
        yield Http(admin, anon)


# -- helpers ------------------------------------------------------------------------------------------
def click(http: Http, scene: Scene, game: str, user: str = "user1") -> str:
    r = http.anon.get(
        f"/go/{scene.games[game]}",
        headers={"Authorization": f"Bearer {scene.tokens[user]}", "User-Agent": ANDROID},
        follow_redirects=False,
    )
    assert r.status_code == 302, r.text
    (referrer,) = parse_qs(urlsplit(r.headers["location"]).query)["referrer"]
    return parse_qs(referrer)["click_id"][0]


def wallet(http: Http, scene: Scene, user: str = "user1") -> tuple[int, int]:
    """(pending, available) as the user sees them; the wallet is opened if need be."""
    auth = {"Authorization": f"Bearer {scene.tokens[user]}"}
    r = http.anon.post("/v1/me/wallets/TWD", headers=auth)
    assert r.status_code == 200, r.text
    return int(r.json()["pending"]), int(r.json()["available"])


def af_message(click_id: str, event: str = "install", app_id: str = "com.example.gamma", **extra: Any) -> Any:
    return {
        "appsflyer_id": f"1700000000000-{click_id[:6]}",
        "event_name": event,
        "event_time": extra.pop("event_time", "2026-01-02 03:04:05.678"),
        "af_sub1": click_id,
        "app_id": app_id,
        "platform": "android",
        **extra,
    }


def af_post(http: Http, message: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    sent = {"Authorization": TOKEN} if headers is None else headers
    return http.anon.post("/postbacks/appsflyer", json=message, headers={**sent, "X-Forwarded-For": AF_IP})


def set_provider_secret(http: Http, provider: str, secret: str) -> httpx.Response:
    return http.admin.put(f"/v1/admin/tracking/providers/{provider}/secrets", json={"secret": secret})


def set_partner_secret(http: Http, partner_id: int, secret: str, active: bool = True) -> None:
    r = http.admin.put(
        f"/v1/admin/tracking/partners/{partner_id}/secrets", json={"secret": secret, "active": active}
    )
    assert r.status_code == 200, r.text
    assert secret not in r.text


def earnloop_post(http: Http, clock: ManualClock, secret: str, txn: str, click_id: str, event: str) -> Any:
    fields = {"transaction_id": txn, "click_id": click_id, "event": event}
    return post_signed(http.anon, clock, "/postbacks/earnloop", fields, secret=secret)


def logged(http: Http, provider: str) -> list[tuple[str, str | None]]:
    """The stored requests of a provider, oldest first: (outcome, reason code)."""
    r = http.admin.get("/v1/admin/tracking/postbacks", params={"provider": provider})
    assert r.status_code == 200, r.text
    return [(p["outcome"], p["reason_code"]) for p in reversed(r.json())]


def problem(r: httpx.Response, status: int, reason: str) -> str:
    assert (r.status_code, r.headers["content-type"]) == (status, "application/problem+json"), r.text
    assert r.json()["reason_code"] == reason, r.text
    return str(r.json()["detail"])


# -- (a) AppsFlyer without a configured token ---------------------------------------------------------
def test_appsflyer_without_a_token_is_refused_with_503(http: Http, scene: Scene) -> None:
    click_id = click(http, scene, "gamma")
    r = af_post(http, af_message(click_id), headers={})
    detail = problem(r, 503, "not_configured")
    assert "PUT /v1/admin/tracking/providers/appsflyer/secrets" in detail
    assert "earnloop tracking set-secret appsflyer" in detail
    assert wallet(http, scene) == (0, 0)
    assert logged(http, "appsflyer") == [("rejected", "not_configured")]


# -- (b) AppsFlyer with a token: the header AppsFlyer sends must carry it -----------------------------
def test_appsflyer_needs_its_token_in_the_authorization_header(http: Http, scene: Scene) -> None:
    assert set_provider_secret(http, "appsflyer", TOKEN).status_code == 200
    click_id = click(http, scene, "gamma")
    message = af_message(click_id)
    for headers in ({}, {"Authorization": "not-the-token-0123456789"}, {"X-Earnloop-Push-Token": TOKEN}):
        problem(af_post(http, message, headers), 403, "bad_signature")
    assert wallet(http, scene) == (0, 0)
    assert af_post(http, message).status_code == 200
    assert wallet(http, scene) == (100, 0)
    assert logged(http, "appsflyer") == [("rejected", "bad_signature")] * 3 + [("accepted", None)]


# -- (c) app_id must be the game's app ------------------------------------------------------------------
def test_appsflyer_message_of_another_app_pays_nothing(http: Http, scene: Scene) -> None:
    assert set_provider_secret(http, "appsflyer", TOKEN).status_code == 200
    click_id = click(http, scene, "gamma")
    problem(af_post(http, af_message(click_id, app_id="com.attacker.app")), 422, "app_mismatch")
    problem(af_post(http, af_message(click_id, app_id="id999")), 422, "app_mismatch")
    assert wallet(http, scene) == (0, 0)
    # The game's iOS app, with or without AppsFlyer's "id" prefix, and its Android package are its own.
    assert af_post(http, af_message(click_id, app_id="id1500000001")).status_code == 200
    assert af_post(http, af_message(click_id, "af_level_5", app_id="1500000001")).status_code == 200
    assert wallet(http, scene) == (300, 0)
    assert logged(http, "appsflyer")[:2] == [("rejected", "app_mismatch")] * 2


# -- (d) a rejected install or event pays nothing, and takes back what was paid --------------------------
def test_appsflyer_rejected_messages_pay_nothing_and_reverse_what_was_paid(http: Http, scene: Scene) -> None:
    assert set_provider_secret(http, "appsflyer", TOKEN).status_code == 200
    first = click(http, scene, "gamma", "user1")
    problem(
        af_post(http, af_message(first, is_rejected=True, reject_reason="bots")), 422, "provider_rejected"
    )
    problem(
        af_post(http, af_message(first, "af_level_5", reject_reason="ctit_anomalies")),
        422,
        "provider_rejected",
    )
    assert wallet(http, scene, "user1") == (0, 0)

    second = click(http, scene, "gamma", "user2")
    assert af_post(http, af_message(second)).status_code == 200
    assert wallet(http, scene, "user2") == (100, 0)
    late = af_message(second, event_time="2026-01-02 05:00:00.000", is_rejected=True, reject_reason="bots")
    detail = problem(af_post(http, late), 422, "provider_rejected")
    assert "reversed" in detail
    assert wallet(http, scene, "user2") == (0, 0)
    assert logged(http, "appsflyer") == [
        ("rejected", "provider_rejected"),
        ("rejected", "provider_rejected"),
        ("accepted", None),
        ("rejected", "provider_rejected"),
    ]


# -- (e) a provider pays only the games it tracks -----------------------------------------------------
def test_a_provider_cannot_pay_a_game_tracked_by_another(http: Http, scene: Scene) -> None:
    secret = "tapjoy-secret-0123456789"
    assert set_provider_secret(http, "tapjoy", secret).status_code == 200
    click_id = click(http, scene, "delta")  # an earnloop game with a "reward" milestone (Tapjoy's event)
    digest = hashlib.md5(f"tj-1:{click_id}:5:{secret}".encode(), usedforsecurity=False).hexdigest()
    params = {"id": "tj-1", "snuid": click_id, "currency": "5", "verifier": digest}
    problem(http.anon.get("/postbacks/tapjoy", params=params), 422, "provider_mismatch")
    assert set_provider_secret(http, "appsflyer", TOKEN).status_code == 200
    problem(
        af_post(http, af_message(click_id, "reward", app_id="com.example.delta")), 422, "provider_mismatch"
    )
    assert wallet(http, scene) == (0, 0)
    assert logged(http, "tapjoy") == [("rejected", "provider_mismatch")]
    assert logged(http, "appsflyer") == [("rejected", "provider_mismatch")]


# -- (f) the earnloop scheme: each publisher signs for its own games ------------------------------------
def test_the_shared_earnloop_secret_pays_no_game(http: Http, scene: Scene, clock: ManualClock) -> None:
    shared = set_provider_secret(http, "earnloop", "shared-earnloop-secret-0123456789")
    click_id = click(http, scene, "beta")
    r = earnloop_post(http, clock, "shared-earnloop-secret-0123456789", "t-1", click_id, "lv5")
    detail = problem(r, 503, "not_configured")
    assert f"PUT /v1/admin/tracking/partners/{scene.partner_b}/secrets" in detail
    assert f"earnloop tracking set-partner-secret {scene.partner_b}" in detail
    assert wallet(http, scene) == (0, 0)
    assert shared.status_code == 422
    assert "/v1/admin/tracking/partners/" in shared.json()["detail"]


def test_a_publishers_secret_pays_only_its_own_games(http: Http, scene: Scene, clock: ManualClock) -> None:
    set_partner_secret(http, scene.partner_a, A_SECRET)
    set_partner_secret(http, scene.partner_b, B_SECRET)
    on_b = click(http, scene, "beta")
    problem(earnloop_post(http, clock, A_SECRET, "a-1", on_b, "lv5"), 403, "bad_signature")
    assert wallet(http, scene) == (0, 0)
    assert earnloop_post(http, clock, B_SECRET, "b-1", on_b, "lv5").status_code == 200
    on_a = click(http, scene, "alpha")
    problem(earnloop_post(http, clock, B_SECRET, "b-2", on_a, "lv5"), 403, "bad_signature")
    assert earnloop_post(http, clock, A_SECRET, "a-2", on_a, "lv5").status_code == 200
    assert wallet(http, scene) == (200, 0)

    # Rotation: B's two active secrets both sign; once the old one is retired, it no longer does.
    set_partner_secret(http, scene.partner_b, B_NEXT)
    assert earnloop_post(http, clock, B_SECRET, "b-3", on_b, "lv10").status_code == 200
    assert earnloop_post(http, clock, B_NEXT, "b-4", on_b, "lv20").status_code == 200
    set_partner_secret(http, scene.partner_b, B_SECRET, active=False)
    problem(earnloop_post(http, clock, B_SECRET, "b-5", on_b, "lv20"), 403, "bad_signature")
    assert wallet(http, scene) == (700, 0)  # lv5 of each game (100 + 100), then lv10 200 and lv20 300
    assert logged(http, "earnloop") == [
        ("rejected", "bad_signature"),
        ("accepted", None),
        ("rejected", "bad_signature"),
        ("accepted", None),
        ("accepted", None),
        ("accepted", None),
        ("rejected", "bad_signature"),
    ]
    listed = http.admin.get(f"/v1/admin/tracking/partners/{scene.partner_b}/secrets")
    assert [s["active"] for s in listed.json()] == [False, True]
    assert B_SECRET not in listed.text


# -- merchants' conversion postbacks: the same rule ----------------------------------------------------
def test_a_merchant_without_a_secret_is_refused_with_503(http: Http, db: Database) -> None:
    with db.uow() as conn:
        partner = create_partner(conn, "shop", "merchant", "TWD").id
        merchant = catalog.upsert_merchant(
            conn,
            {
                "key": "shop",
                "partner_id": partner,
                "name": "Shop",
                "category": "misc",
                "rates": {"default": 100},
                "tracking_template": "https://shop.example/?c={click_id}",
            },
        )["merchant_id"]
    r = http.anon.post(f"/affiliate/postbacks/{merchant}", json={"order_id": "o-1"})
    detail = problem(r, 503, "not_configured")
    assert f"PUT /v1/admin/affiliate/merchants/{merchant}/secrets" in detail
    assert f"earnloop affiliate set-secret {merchant}" in detail


def test_cli_sets_a_publishers_secret_without_echoing_it(cli: Cli, scene: Scene) -> None:
    set_it = cli("tracking", "set-partner-secret", str(scene.partner_a), "--secret", A_SECRET)
    assert set_it.returncode == 0, set_it.stderr
    assert A_SECRET not in set_it.stdout + set_it.stderr
    listed = cli("tracking", "partner-secrets", str(scene.partner_a))
    assert [json.loads(line)["active"] for line in listed.stdout.splitlines()] == [True]
    assert A_SECRET not in listed.stdout
    shared = cli("tracking", "set-secret", "earnloop", "--secret", A_SECRET)
    assert shared.returncode == 1
    assert "set-partner-secret" in shared.stderr
    assert len(shared.stderr.strip().splitlines()) == 1
    not_a_publisher = cli("tracking", "set-partner-secret", "999999", "--secret", A_SECRET)
    assert (not_a_publisher.returncode, not_a_publisher.stderr.count("\n")) == (1, 1)
