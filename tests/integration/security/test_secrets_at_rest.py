"""Secrets at rest (issue 13, item 10), on SQLite and PostgreSQL: webhook signing secrets and payout
account numbers are not stored in plain text (read from the raw rows), account numbers are shown
masked, ``earnloop secrets rotate`` re-encrypts every value with a new key (and seals legacy plaintext),
and the SQLite file is created 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import insert, select, update

from earnloop.auth import service as auth
from earnloop.db.engine import Database, make_database
from earnloop.outbox.models import webhook_secrets
from earnloop.secretbox import SecretBox, SecretBoxError
from earnloop.wallet.withdrawal_models import payout_destinations
from tests.conftest import SECRETS_KEYS, Cli

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
