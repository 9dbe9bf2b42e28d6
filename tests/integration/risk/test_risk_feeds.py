"""Partner blocklist feeds over real HTTP and the real ``earnloop`` command, on SQLite and PostgreSQL: a
feed signed by a registered partner is verified and imported (replacing that partner's previous
entries); our export is signed with our key and imports back; a tampered feed (one byte), an unknown
issuer and a replayed older feed are refused and change nothing.

Partner feeds are signed here by hand over the documented encoding (ADR 0026), not with the code under
test, so a change of encoding fails these tests."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from earnloop.db.engine import Database
from earnloop.risk.list_errors import FeedReplayedError
from earnloop.risk.list_models import risk_list_entries
from tests.conftest import Cli, DbTarget, reset_ledger
from tests.integration.risk.world import RiskApp, fingerprint, risk_app


@pytest.fixture
def app(db: Database, db_target: DbTarget, tmp_path: Path) -> Iterator[RiskApp]:
    yield from risk_app(db, db_target, tmp_path / "feed.pem")


def public_key_of(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def signed_feed(
    key: Ed25519PrivateKey, issuer: str, sequence: int, entries: list[dict[str, Any]]
) -> dict[str, Any]:
    document = {
        "format": "earnloop-risk-feed/1",
        "issuer": issuer,
        "sequence": sequence,
        "issued_at": "2026-12-07T12:00:00Z",
        "entries": entries,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    signature = key.sign(b"earnloop-risk-feed/1\n" + canonical.encode())
    return {**document, "signature": base64.urlsafe_b64encode(signature).rstrip(b"=").decode()}


def block(key: str, value: str, expires_at: str | None = None) -> dict[str, Any]:
    return {
        "key": key,
        "value": value,
        "list": "block",
        "expires_at": expires_at,
        "reason": "shared by partner",
    }


@pytest.fixture
def acme(app: RiskApp) -> Ed25519PrivateKey:
    """A registered feed partner, ``acme``, and its private key."""
    key = Ed25519PrivateKey.generate()
    made = app.admin.post("/v1/risk/feeds/partners", json={"name": "acme", "public_key": public_key_of(key)})
    assert made.status_code == 201, made.text
    return key


def blocklisted(app: RiskApp, key: str, value: str) -> bool:
    found = app.admin.get("/v1/risk/lists/lookup", params={"key": key, "value": value})
    assert found.status_code == 200, found.text
    return bool(found.json()["blocklisted"])


def test_a_signed_partner_feed_is_imported_and_a_newer_one_replaces_it(
    app: RiskApp, acme: Ed25519PrivateKey
) -> None:
    first = signed_feed(
        acme,
        "acme",
        1,
        [block("device", "FARM-1"), block("phone", "0912345678"), block("ip", "198.51.100.7")],
    )
    imported = app.admin.post("/v1/risk/feeds/import", json=first)
    assert imported.status_code == 200, imported.text
    assert imported.json()["imported"] == 3
    assert imported.json()["already_imported"] is False
    assert blocklisted(app, "device", "farm-1")
    assert blocklisted(app, "phone", "+886912345678")
    sources = {e["source"] for e in app.admin.get("/v1/risk/lists/block/entries").json()}
    assert sources == {"feed:acme"}

    again = app.admin.post("/v1/risk/feeds/import", json=first)
    assert again.status_code == 200
    assert again.json()["already_imported"] is True

    second = signed_feed(
        acme, "acme", 2, [block("device", "farm-2"), block("card", "fp-9", "2001-01-01T00:00:00Z")]
    )
    replaced = app.admin.post("/v1/risk/feeds/import", json=second)
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["imported"], replaced.json()["replaced"], replaced.json()["skipped_expired"]) == (
        1,
        3,
        1,
    )
    assert not blocklisted(app, "device", "farm-1")
    assert blocklisted(app, "device", "farm-2")
    assert not blocklisted(app, "card", "fp-9")
    partner = app.admin.get("/v1/risk/feeds/partners").json()
    assert [(p["name"], p["last_sequence"]) for p in partner] == [("acme", 2)]


def _refused(app: RiskApp, db: Database, content: bytes, status: int, slug: str) -> None:
    before = fingerprint(db)
    response = app.admin.post(
        "/v1/risk/feeds/import", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith(slug)
    assert fingerprint(db) == before


def test_a_feed_with_one_byte_changed_is_refused_and_changes_nothing(
    app: RiskApp, db: Database, acme: Ed25519PrivateKey
) -> None:
    app.admin.post("/v1/risk/feeds/import", json=signed_feed(acme, "acme", 1, [block("device", "keep-me")]))
    text = json.dumps(signed_feed(acme, "acme", 2, [block("device", "farm-7")])).encode()
    tampered = text.replace(b"farm-7", b"farm-8")
    assert len(tampered) == len(text)
    assert sum(a != b for a, b in zip(text, tampered, strict=True)) == 1
    _refused(app, db, tampered, 422, "feed-refused")
    assert blocklisted(app, "device", "keep-me")


def test_a_feed_from_an_unknown_issuer_is_refused(app: RiskApp, db: Database) -> None:
    stranger = Ed25519PrivateKey.generate()
    _refused(
        app,
        db,
        json.dumps(signed_feed(stranger, "stranger", 1, [block("device", "x")])).encode(),
        422,
        "feed-refused",
    )


def test_a_feed_signed_with_another_key_is_refused(
    app: RiskApp, db: Database, acme: Ed25519PrivateKey
) -> None:
    impostor = Ed25519PrivateKey.generate()
    _refused(
        app,
        db,
        json.dumps(signed_feed(impostor, "acme", 1, [block("device", "x")])).encode(),
        422,
        "feed-refused",
    )


def test_a_replayed_older_feed_is_refused_and_changes_nothing(
    app: RiskApp, db: Database, acme: Ed25519PrivateKey
) -> None:
    old = signed_feed(acme, "acme", 5, [block("device", "old")])
    new = signed_feed(acme, "acme", 6, [block("device", "new")])
    assert app.admin.post("/v1/risk/feeds/import", json=old).status_code == 200
    assert app.admin.post("/v1/risk/feeds/import", json=new).status_code == 200
    _refused(app, db, json.dumps(old).encode(), 409, "feed-replayed")
    same_sequence = signed_feed(acme, "acme", 6, [block("device", "other")])
    _refused(app, db, json.dumps(same_sequence).encode(), 409, "feed-replayed")
    assert blocklisted(app, "device", "new")
    assert not blocklisted(app, "device", "old")


def test_partner_feeds_may_not_allowlist(app: RiskApp, db: Database, acme: Ed25519PrivateKey) -> None:
    entry = {**block("user", "7"), "list": "allow"}
    _refused(app, db, json.dumps(signed_feed(acme, "acme", 1, [entry])).encode(), 422, "feed-refused")


def test_our_export_is_signed_shares_only_our_entries_and_imports_back(
    app: RiskApp, cli: Cli, acme: Ed25519PrivateKey
) -> None:
    env = {"EARNLOOP_RISK_FEED_SIGNING_KEY_FILE": str(app.key_file)}
    made = cli("risk", "feeds", "keygen", **env)
    assert made.returncode == 0, made.stderr
    our_public_key = json.loads(made.stdout)["public_key"]
    http = app.admin
    http.post("/v1/risk/lists/block/entries", json={"key": "device", "value": "ours-1", "reason": "farm"})
    http.post(
        "/v1/risk/lists/block/entries",
        json={"key": "payee", "value": "mule", "reason": "r", "source": "review"},
    )
    http.post("/v1/risk/lists/allow/entries", json={"key": "user", "value": "1", "reason": "staff"})
    http.post("/v1/risk/feeds/import", json=signed_feed(acme, "acme", 1, [block("device", "theirs")]))

    exported = http.get("/v1/risk/feeds/export")
    assert exported.status_code == 200, exported.text
    document = exported.json()
    assert document["issuer"] == "earnloop"
    assert sorted((e["key"], e["value"]) for e in document["entries"]) == [
        ("device", "ours-1"),
        ("payee", "mule"),
    ]
    with_feeds = http.get("/v1/risk/feeds/export", params={"include_partner_feeds": True}).json()
    assert ("device", "theirs") in {(e["key"], e["value"]) for e in with_feeds["entries"]}

    # a partner running earnloop registers our public key and imports what we exported, through the CLI
    assert (
        http.post(
            "/v1/risk/feeds/partners", json={"name": "earnloop", "public_key": our_public_key}
        ).status_code
        == 201
    )
    feed_file = app.key_file.parent / "ours.json"
    printed = cli("risk", "feeds", "export", **env)
    assert printed.returncode == 0, printed.stderr
    feed_file.write_text(printed.stdout, encoding="utf-8")
    verified = cli("risk", "feeds", "verify", str(feed_file))
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["signature"] == "valid"
    imported = cli("risk", "feeds", "import", str(feed_file))
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["imported"] == 2
    entries = http.get("/v1/risk/lists/block/entries", params={"source": "feed:earnloop"}).json()
    assert sorted(e["value"] for e in entries) == ["mule", "ours-1"]


def test_cli_refuses_a_tampered_feed_in_one_line(cli: Cli, db: Database, tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    added = cli("risk", "feeds", "add-partner", "acme", "--public-key", public_key_of(key))
    assert added.returncode == 0, added.stderr
    feed = tmp_path / "feed.json"
    feed.write_text(
        json.dumps(signed_feed(key, "acme", 1, [block("device", "farm-1")])).replace("farm-1", "farm-2")
    )
    before = fingerprint(db)
    for command in ("verify", "import"):
        done = cli("risk", "feeds", command, str(feed))
        assert done.returncode == 1
        assert done.stderr.startswith("error: the signature does not verify"), done.stderr
        assert done.stderr.count("\n") == 1
    assert fingerprint(db) == before


def test_export_without_a_signing_key_is_refused_clearly(cli: Cli, tmp_path: Path) -> None:
    unset = cli("risk", "feeds", "export")
    assert unset.returncode == 1
    assert "EARNLOOP_RISK_FEED_SIGNING_KEY_FILE is not set" in unset.stderr
    missing = cli("risk", "feeds", "export", EARNLOOP_RISK_FEED_SIGNING_KEY_FILE=str(tmp_path / "none.pem"))
    assert missing.returncode == 1
    assert "cannot be read" in missing.stderr


def test_export_over_http_without_the_key_file_is_a_problem(app: RiskApp) -> None:
    refused = app.admin.get("/v1/risk/feeds/export")
    assert refused.status_code == 503
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert str(app.key_file) in refused.json()["detail"]


def test_keygen_writes_a_private_key_only_the_owner_reads_and_never_overwrites_it(
    cli: Cli, tmp_path: Path
) -> None:
    key_file = tmp_path / "keys" / "feed.pem"
    env = {"EARNLOOP_RISK_FEED_SIGNING_KEY_FILE": str(key_file)}
    made = cli("risk", "feeds", "keygen", **env)
    assert made.returncode == 0, made.stderr
    assert key_file.stat().st_mode & 0o777 == 0o600
    pem = key_file.read_bytes()
    assert b"PRIVATE KEY" not in made.stdout.encode()
    again = cli("risk", "feeds", "keygen", **env)
    assert again.returncode == 1
    assert "never overwritten" in again.stderr
    assert key_file.read_bytes() == pem
    shown = cli("risk", "feeds", "public-key", **env)
    assert json.loads(shown.stdout)["public_key"] == json.loads(made.stdout)["public_key"]


@pytest.mark.postgres
def test_concurrent_imports_of_one_partner_leave_exactly_one_feed(postgres_target: DbTarget) -> None:
    from earnloop.risk import feeds

    db = postgres_target.open()
    reset_ledger(db)
    key = Ed25519PrivateKey.generate()
    try:
        with db.uow() as conn:
            feeds.add_partner(conn, "acme", public_key_of(key))
        documents = [
            signed_feed(key, "acme", n, [block("device", f"farm-{n}-{i}") for i in range(20)])
            for n in (1, 2, 3, 4)
        ]
        barrier = threading.Barrier(len(documents))
        outcomes: list[str] = []

        def run(document: dict[str, Any]) -> None:
            barrier.wait()
            try:
                with db.uow() as conn:
                    feeds.import_feed(conn, document)
                outcomes.append("imported")
            except FeedReplayedError:
                outcomes.append("replayed")

        threads = [threading.Thread(target=run, args=(d,)) for d in documents]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with db.uow(write=False) as conn:
            active = (
                conn.execute(
                    select(risk_list_entries.c.value).where(risk_list_entries.c.removed_at_ns.is_(None))
                )
                .scalars()
                .all()
            )
            last = feeds.get_partner(conn, "acme").last_sequence
        assert "imported" in outcomes
        assert len(outcomes) == len(documents)
        assert sorted(active) == sorted(f"farm-{last}-{i}" for i in range(20))
    finally:
        db.dispose()
