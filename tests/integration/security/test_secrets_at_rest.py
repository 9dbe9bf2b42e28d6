"""Secrets at rest (issue 13, item 10), on SQLite and PostgreSQL: webhook signing secrets, payout
account numbers and postback secrets (tracking providers', game publishers', affiliate merchants') are
not stored in plain text (read from the raw rows), account numbers are shown masked, ``earnloop secrets
rotate`` re-encrypts every value with a new key (and seals legacy plaintext) while postbacks keep paying,
a postback secret set again is found again (by its digest), and the SQLite file is created 0600."""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import insert, select, text, update

from earnloop.affiliate.models import affiliate_merchant_secrets
from earnloop.auth import service as auth
from earnloop.catalog import service as catalog
from earnloop.db.engine import Database, make_database
from earnloop.db.migrate import upgrade
from earnloop.ledger.clock import ManualClock
from earnloop.outbox.models import webhook_secrets
from earnloop.risk.engine import memory_engine, shadowed_default
from earnloop.secretbox import SecretBox, SecretBoxError
from earnloop.tracking.models import tracking_partner_secrets, tracking_provider_secrets
from earnloop.tracking.verifiers import APPSFLYER_PUSH_NETWORKS
from earnloop.wallet.withdrawals.models import payout_destinations
from tests.conftest import ADMIN_TOKEN, PG_URL, SECRETS_KEYS, Cli, DbTarget
from tests.integration.signed_post import post_signed
from tests.live_server import client, serve

ACCOUNT = "123456789012"


def _webhook_secret(api: httpx.Client) -> tuple[int, str]:
    created = api.post(
        "/v1/partners", json={"name": "acme", "kind": "merchant", "settlement_currency": "TWD"}
    )
    with httpx.Client(base_url=str(api.base_url), headers={"X-Api-Key": created.json()["api_key"]}) as acme:
        answer = acme.put("/v1/partner/webhook-endpoint", json={"url": "https://93.184.216.34/hook"})
    assert answer.status_code == 200
    return created.json()["partner_id"], answer.json()["secret"]


def _destination(api: httpx.Client) -> httpx.Response:
    token = api.post("/v1/users", json={"handle": "saver"}).json()["token"]
    with httpx.Client(base_url=str(api.base_url), headers={"Authorization": f"Bearer {token}"}) as me:
        created = me.post(
            "/v1/me/payout-destinations",
            json={"kind": "bank", "institution": "B", "holder_name": "H", "account_number": ACCOUNT},
        )
        listed = me.get("/v1/me/payout-destinations")
    assert created.status_code == 201
    assert ACCOUNT not in listed.text
    assert [d["account_masked"] for d in listed.json()] == ["****9012"]
    return created


def _raw(db: Database, column: object) -> list[str]:
    with db.uow(write=False) as conn:
        return list(conn.execute(select(column)).scalars())  # type: ignore[call-overload]


def test_webhook_secrets_and_account_numbers_are_stored_encrypted(api: httpx.Client, db: Database) -> None:
    _, secret = _webhook_secret(api)
    created = _destination(api)
    assert created.json()["account_masked"] == "****9012"
    assert ACCOUNT not in created.text
    (stored_secret,) = _raw(db, webhook_secrets.c.secret)
    (stored_account,) = _raw(db, payout_destinations.c.account_number)
    for stored, plain in ((stored_secret, secret), (stored_account, ACCOUNT)):
        assert plain not in stored
        assert stored.startswith("enc1:")
        assert SecretBox([SECRETS_KEYS]).open(stored) == plain


def test_rotate_reencrypts_every_value_and_seals_legacy_plaintext(
    api: httpx.Client, db: Database, cli: Cli
) -> None:
    _, secret = _webhook_secret(api)
    _destination(api)
    with db.uow() as conn:  # a row from before encryption: plain text
        conn.execute(
            update(payout_destinations).values(account_number=ACCOUNT)  # the only destination
        )
        other = auth.create_partner(conn, "legacy", "merchant", "TWD").id
        conn.execute(insert(webhook_secrets).values(partner_id=other, secret="whsec_legacy", created_at_ns=1))
    new_key = Fernet.generate_key().decode()
    done = cli("secrets", "rotate", EARNLOOP_SECRETS_KEYS=f"{new_key},{SECRETS_KEYS}")
    assert done.returncode == 0, done.stderr
    assert "2 plaintext values encrypted, 1 re-encrypted" in done.stdout
    assert "payout_destinations.account_number" in done.stdout
    new_only, old_only = SecretBox([new_key]), SecretBox([SECRETS_KEYS])
    stored = _raw(db, webhook_secrets.c.secret) + _raw(db, payout_destinations.c.account_number)
    assert sorted(new_only.open(v) for v in stored) == sorted([secret, "whsec_legacy", ACCOUNT])
    for value in stored:
        assert value.startswith("enc1:")
        with pytest.raises(SecretBoxError):
            old_only.open(value)  # the old key can be dropped now
    bad = cli("secrets", "rotate", EARNLOOP_SECRETS_KEYS="not-a-key")
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("error: EARNLOOP_SECRETS_KEYS")


def test_the_sqlite_file_is_created_readable_by_its_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        db = make_database(f"sqlite:///{tmp_path}/private.db")
        with db.uow() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            modes = {
                name: stat.S_IMODE((tmp_path / name).stat().st_mode)
                for name in ("private.db", "private.db-wal", "private.db-shm")
            }
        db.dispose()
    finally:
        os.umask(previous)
    assert modes == dict.fromkeys(modes, 0o600)


# -- postback secrets: tracking providers, game publishers, affiliate merchants -------------------------
AF_TOKEN = "appsflyer-push-token-0123456789"
PUBLISHER_SECRET = "publisher-secret-0123456789"
MERCHANT_SECRET = "merchant-secret-0123456789"
ANDROID = "Mozilla/5.0 (Linux; Android 14)"
AF_EVENTS = ("install", "af_level_5", "af_level_10", "af_level_20")
TRACKING_SECRETS = (
    (tracking_provider_secrets, AF_TOKEN),
    (tracking_partner_secrets, PUBLISHER_SECRET),
    (affiliate_merchant_secrets, MERCHANT_SECRET),
)


@dataclass(frozen=True)
class Shop:
    """A player, an AppsFlyer-tracked game, an earnloop game of a publisher, and an affiliate merchant."""

    token: str
    af_game: int
    el_game: int
    publisher_id: int
    merchant_id: int


@pytest.fixture
def shop(db: Database) -> Shop:
    return _make_shop(db)


def _make_shop(db: Database) -> Shop:
    milestones = [{"key": k, "title": k, "reward_amount": 10, "position": n} for n, k in enumerate(AF_EVENTS)]
    game = {"platforms": ["android"], "tags": [], "status": "active", "currency": "TWD"}
    with db.uow() as conn:
        token = auth.create_user(conn, "player").secret
        publisher = auth.create_partner(conn, "studio", "game_publisher", "TWD").id
        merchant_partner = auth.create_partner(conn, "shop-partner", "merchant", "TWD").id
        af = catalog.upsert_game(
            conn,
            {
                **game,
                "key": "gamma",
                "title": "Gamma",
                "play_package": "com.example.gamma",
                "tracking_provider": "appsflyer",
                "milestones": milestones,
            },
        )
        el = catalog.upsert_game(
            conn,
            {
                **game,
                "key": "alpha",
                "title": "Alpha",
                "play_package": "com.example.alpha",
                "tracking_provider": "earnloop",
                "publisher_id": publisher,
                "milestones": milestones,
            },
        )
        merchant = catalog.upsert_merchant(
            conn,
            {
                "key": "gadgets",
                "partner_id": merchant_partner,
                "name": "Gadgets",
                "category": "electronics",
                "tracking_template": "https://partner.example/t?sub={click_id}",
                "rates": {"default": 500},
            },
        )
    return Shop(token, af["game_id"], el["game_id"], publisher, merchant["merchant_id"])


@contextmanager
def _server(db: Database, db_target: DbTarget, clock: ManualClock, keys: str) -> Iterator[httpx.Client]:
    """The app serving with ``keys`` as EARNLOOP_SECRETS_KEYS (AppsFlyer's push accepted from loopback)."""
    from earnloop.api.app import create_app
    from earnloop.config import Settings

    settings = Settings(
        database_url=db_target.url,
        admin_token=ADMIN_TOKEN,
        secrets_keys=keys,
        appsflyer_push_networks=[*APPSFLYER_PUSH_NETWORKS, "127.0.0.0/8"],
    )
    app = create_app(settings, db=db, clock=clock, risk=memory_engine(strategies=shadowed_default))
    with serve(app) as base_url, client(base_url, ADMIN_TOKEN) as admin:
        yield admin


_SECRET_PATHS = (
    ("/v1/admin/tracking/providers/appsflyer/secrets", AF_TOKEN),
    ("/v1/admin/tracking/partners/{publisher_id}/secrets", PUBLISHER_SECRET),
    ("/v1/admin/affiliate/merchants/{merchant_id}/secrets", MERCHANT_SECRET),
)


def _set_secrets(admin: httpx.Client, shop: Shop, active: bool = True) -> list[int]:
    """The three postback secrets set over HTTP; their secret ids."""
    ids = []
    for path, secret in _SECRET_PATHS:
        url = path.format(publisher_id=shop.publisher_id, merchant_id=shop.merchant_id)
        r = admin.put(url, json={"secret": secret, "active": active})
        assert r.status_code == 200, r.text
        assert secret not in r.text
        ids.append(int(r.json()["secret_id"]))
    return ids


def _click(admin: httpx.Client, shop: Shop, path: str, param: str) -> str:
    r = admin.get(
        path, headers={"Authorization": f"Bearer {shop.token}", "User-Agent": ANDROID}, follow_redirects=False
    )
    assert r.status_code == 302, r.text
    query = parse_qs(urlsplit(r.headers["location"]).query)
    if param == "referrer":
        return parse_qs(query["referrer"][0])["click_id"][0]
    return query[param][0]


def _pending(admin: httpx.Client, shop: Shop) -> int:
    r = admin.post("/v1/me/wallets/TWD", headers={"Authorization": f"Bearer {shop.token}"})
    assert r.status_code == 200, r.text
    return int(r.json()["pending"])


def _postbacks_pay(admin: httpx.Client, shop: Shop, clock: ManualClock, round_: int) -> None:
    """One postback per secret (AppsFlyer push, a publisher's earnloop event, a merchant's order),
    each answered 200 and each paying the player."""
    before = _pending(admin, shop)
    af_click = _click(admin, shop, f"/go/{shop.af_game}", "referrer")
    message = {
        "appsflyer_id": f"af-{round_}",
        "event_name": AF_EVENTS[round_],
        "event_time": "2026-01-02 03:04:05.678",
        "af_sub1": af_click,
        "app_id": "com.example.gamma",
        "platform": "android",
    }
    answer = admin.post("/postbacks/appsflyer", json=message, headers={"Authorization": AF_TOKEN})
    assert answer.status_code == 200, answer.text
    el_click = _click(admin, shop, f"/go/{shop.el_game}", "referrer")
    event = {"transaction_id": f"el-{round_}", "click_id": el_click, "event": AF_EVENTS[round_]}
    answer = post_signed(admin, clock, "/postbacks/earnloop", event, secret=PUBLISHER_SECRET)
    assert answer.status_code == 200, answer.text
    shop_click = _click(admin, shop, f"/go/shop/{shop.merchant_id}", "sub")
    order = {
        "order_id": f"order-{round_}",
        "click_id": shop_click,
        "status": "pending",
        "order_amount": 10_000,
        "currency": "TWD",
        "event_time": "2026-12-04T10:00:00Z",
    }
    answer = post_signed(
        admin, clock, f"/affiliate/postbacks/{shop.merchant_id}", order, secret=MERCHANT_SECRET
    )
    assert answer.status_code == 200, answer.text
    assert _pending(admin, shop) == before + 10 + 10 + 500  # two milestones and 5% of the order


def test_postback_secrets_are_stored_encrypted_and_still_verify(
    db: Database, db_target: DbTarget, clock: ManualClock, shop: Shop
) -> None:
    with _server(db, db_target, clock, SECRETS_KEYS) as admin:
        first = _set_secrets(admin, shop)
        for table, plain in TRACKING_SECRETS:
            (stored,) = _raw(db, table.c.secret)
            assert plain not in stored, table.name
            assert stored.startswith("enc1:"), table.name
            assert SecretBox([SECRETS_KEYS]).open(stored) == plain
        _postbacks_pay(admin, shop, clock, 0)
        _postbacks_pay(admin, shop, clock, 1)  # the second time from the process's cache
        assert _set_secrets(admin, shop) == first  # the same secret again is the same row
        assert _set_secrets(admin, shop, active=False) == first
        for table, _ in TRACKING_SECRETS:
            assert len(_raw(db, table.c.secret)) == 1


def test_a_postback_secret_longer_than_a_sealed_value_holds_is_refused(
    db: Database, db_target: DbTarget, clock: ManualClock, shop: Shop
) -> None:
    longest, too_long = "s" * 200, "é" * 101  # 200 bytes; 101 characters but 202 bytes
    with _server(db, db_target, clock, SECRETS_KEYS) as admin:
        for path, _ in _SECRET_PATHS:
            url = path.format(publisher_id=shop.publisher_id, merchant_id=shop.merchant_id)
            refused = admin.put(url, json={"secret": too_long})
            assert refused.status_code == 422, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert "at most 200 bytes" in refused.json()["detail"]
            assert too_long not in refused.text
            assert admin.put(url, json={"secret": longest}).status_code == 200
    for table, _ in TRACKING_SECRETS:
        (stored,) = _raw(db, table.c.secret)
        assert SecretBox([SECRETS_KEYS]).open(stored) == longest


def test_a_postback_whose_secret_no_key_opens_is_refused_503_and_pays_nothing(
    db: Database, db_target: DbTarget, clock: ManualClock, shop: Shop
) -> None:
    with _server(db, db_target, clock, SECRETS_KEYS) as admin:
        _set_secrets(admin, shop)
    with _server(db, db_target, clock, Fernet.generate_key().decode()) as admin:  # the old key dropped early
        el_click = _click(admin, shop, f"/go/{shop.el_game}", "referrer")
        event = {"transaction_id": "el-0", "click_id": el_click, "event": AF_EVENTS[0]}
        shop_click = _click(admin, shop, f"/go/shop/{shop.merchant_id}", "sub")
        order = {
            "order_id": "o-1",
            "click_id": shop_click,
            "status": "pending",
            "order_amount": 10_000,
            "currency": "TWD",
            "event_time": "2026-12-04T10:00:00Z",
        }
        answers = [
            admin.post("/postbacks/appsflyer", json={"af_sub1": "x"}, headers={"Authorization": AF_TOKEN}),
            post_signed(admin, clock, "/postbacks/earnloop", event, secret=PUBLISHER_SECRET),
            post_signed(
                admin, clock, f"/affiliate/postbacks/{shop.merchant_id}", order, secret=MERCHANT_SECRET
            ),
        ]
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["reason_code"] == "not_configured"
            assert "EARNLOOP_SECRETS_KEYS" in answer.json()["detail"]
        assert _pending(admin, shop) == 0
        logged = admin.get("/v1/admin/tracking/postbacks").json()
        assert [(p["outcome"], p["reason_code"]) for p in logged] == [("rejected", "not_configured")] * 2


def test_rotation_keeps_postback_secrets_working(
    db: Database, db_target: DbTarget, clock: ManualClock, shop: Shop, cli: Cli
) -> None:
    new_key = Fernet.generate_key().decode()
    with _server(db, db_target, clock, SECRETS_KEYS) as before:  # the old key only
        first = _set_secrets(before, shop)
        _postbacks_pay(before, shop, clock, 0)
    with _server(db, db_target, clock, f"{new_key},{SECRETS_KEYS}") as during:  # deployed with both keys
        _postbacks_pay(during, shop, clock, 1)  # opens (and caches) the values sealed with the old key
        done = cli("secrets", "rotate", EARNLOOP_SECRETS_KEYS=f"{new_key},{SECRETS_KEYS}")
        assert done.returncode == 0, done.stderr
        for table, _ in TRACKING_SECRETS:
            assert f"{table.name}.secret" in done.stdout
        _postbacks_pay(during, shop, clock, 2)  # the same process reads the re-encrypted values
    for table, plain in TRACKING_SECRETS:
        (stored,) = _raw(db, table.c.secret)
        assert SecretBox([new_key]).open(stored) == plain
        with pytest.raises(SecretBoxError):
            SecretBox([SECRETS_KEYS]).open(stored)
    with _server(db, db_target, clock, new_key) as after:  # the old key dropped
        _postbacks_pay(after, shop, clock, 3)
        assert _set_secrets(after, shop) == first  # still found by its digest after re-encryption


# -- rows written before encryption: the migration gives them a digest, `secrets rotate` seals them -------
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DbTarget]:
    """An empty database of its own (migrated by the test, not by the session)."""
    if request.param == "sqlite":
        yield DbTarget(f"sqlite:///{tmp_path}/legacy.db", None)
        return
    request.getfixturevalue("postgres_target")  # PostgreSQL reachable (else skipped, or failed in CI)
    schema = f"legacy_{uuid.uuid4().hex[:12]}"
    admin = make_database(PG_URL, pool_size=1)
    with admin.uow() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield DbTarget(PG_URL, schema)
    with admin.uow() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _insert_plaintext(db: Database, shop: Shop) -> None:
    """The three secrets as the schema before sealing stored them: plaintext, no digest."""
    owners = (("provider", "appsflyer"), ("partner_id", shop.publisher_id), ("merchant_id", shop.merchant_id))
    with db.uow() as conn:
        for (table, plain), (owner, value) in zip(TRACKING_SECRETS, owners, strict=True):
            conn.execute(
                text(
                    f"INSERT INTO {table.name} ({owner}, secret, active, created_at_ns, updated_at_ns)"
                    " VALUES (:owner, :secret, true, 1, 1)"
                ),
                {"owner": value, "secret": plain},
            )


def test_plaintext_rows_from_before_keep_working_and_rotate_seals_them(
    fresh_target: DbTarget, clock: ManualClock, tmp_path: Path
) -> None:
    db = fresh_target.open()
    try:
        upgrade(db, "0150")  # the schema before postback secrets were sealed
        shop = _make_shop(db)
        _insert_plaintext(db, shop)
        upgrade(db)
        legacy_ids = []
        for table, plain in TRACKING_SECRETS:
            (row,) = _raw_rows(db, table)
            assert (row.secret, row.secret_digest) == (plain, hashlib.sha256(plain.encode()).hexdigest())
            legacy_ids.append(row.id)
        with _server(db, fresh_target, clock, SECRETS_KEYS) as admin:
            _postbacks_pay(admin, shop, clock, 0)  # legacy plaintext rows still verify
            assert _set_secrets(admin, shop) == legacy_ids  # found by the digest the migration computed
            done = Cli(fresh_target, tmp_path)("secrets", "rotate")
            assert done.returncode == 0, done.stderr
            assert done.stdout.startswith("3 plaintext values encrypted, 0 re-encrypted"), done.stdout
            for table, plain in TRACKING_SECRETS:
                (row,) = _raw_rows(db, table)
                assert plain not in row.secret
                assert SecretBox([SECRETS_KEYS]).open(row.secret) == plain
            _postbacks_pay(admin, shop, clock, 1)
    finally:
        db.dispose()


def _raw_rows(db: Database, table: Any) -> list[Any]:
    with db.uow(write=False) as conn:
        return list(conn.execute(select(table.c.id, table.c.secret, table.c.secret_digest)).all())
