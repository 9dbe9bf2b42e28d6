"""Passwords (``earnloop.auth.passwords``): the policy (a refused password changes nothing), argon2id
hashes that never hold the password, checking one, and the re-hash when the parameters changed."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from earnloop.auth import passwords
from earnloop.auth.models import user_passwords, users
from earnloop.auth.service import AuthError, DuplicateError, create_user
from earnloop.db.engine import Database

PASSWORD = "a long enough passphrase"


def _hash_of(db: Database, user_id: int) -> str | None:
    with db.engine.connect() as conn:
        found = conn.execute(select(user_passwords.c.hash).where(user_passwords.c.user_id == user_id))
        return found.scalar_one_or_none()


def _count(db: Database) -> tuple[int, int]:
    with db.engine.connect() as conn:
        return (
            int(conn.execute(select(func.count()).select_from(users)).scalar_one()),
            int(conn.execute(select(func.count()).select_from(user_passwords)).scalar_one()),
        )


@pytest.mark.parametrize(
    ("password", "reason"),
    [("", "length"), ("nine char", "length"), ("x" * 129, "length"), ("zzzzzzzzzzzz", "repeated")],
)
def test_a_password_outside_the_policy_is_refused_and_nothing_is_created(
    db: Database, password: str, reason: str
) -> None:
    with db.engine.begin() as conn, pytest.raises(passwords.PasswordPolicyError) as refused:
        passwords.sign_up(conn, "someone", password)
    assert refused.value.reason == reason
    assert "password" in str(refused.value)
    assert password not in str(refused.value) or not password
    assert _count(db) == (0, 0)


def test_the_policy_accepts_ten_and_a_hundred_and_twenty_eight_characters(db: Database) -> None:
    with db.engine.begin() as conn:
        short = passwords.sign_up(conn, "ten-chars", "0123456789")
        long = passwords.sign_up(conn, "many-chars", "ab" * 64)
        assert passwords.verify(conn, "ten-chars", "0123456789") == short
        assert passwords.verify(conn, "many-chars", "ab" * 64) == long


def test_a_bad_or_taken_handle_creates_nothing(db: Database) -> None:
    with db.engine.begin() as conn:
        with pytest.raises(AuthError, match="handle"):
            passwords.sign_up(conn, "Bad Handle", PASSWORD)
        passwords.sign_up(conn, "first", PASSWORD)
    with db.engine.begin() as conn, pytest.raises(DuplicateError):
        passwords.sign_up(conn, "first", PASSWORD)
    assert _count(db) == (1, 1)


def test_the_stored_hash_is_argon2id_and_never_the_password(db: Database) -> None:
    with db.engine.begin() as conn:
        user_id = passwords.sign_up(conn, "hashed", PASSWORD)
    stored = _hash_of(db, user_id)
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_verify_knows_the_right_password_only(db: Database) -> None:
    with db.engine.begin() as conn:
        user_id = passwords.sign_up(conn, "checker", PASSWORD)
        no_password = create_user(conn, "api-only").id
        assert passwords.verify(conn, "checker", PASSWORD) == user_id
        assert passwords.verify(conn, "checker", PASSWORD + "!") is None
        assert passwords.verify(conn, "checker", PASSWORD.upper()) is None
        assert passwords.verify(conn, "nobody", PASSWORD) is None
        assert passwords.verify(conn, "api-only", PASSWORD) is None
        assert passwords.verify(conn, "checker", PASSWORD + "x" * 200) is None
    assert _hash_of(db, no_password) is None


def test_set_password_replaces_the_old_one_and_a_refused_one_keeps_it(db: Database) -> None:
    with db.engine.begin() as conn:
        user_id = passwords.sign_up(conn, "changer", PASSWORD)
        passwords.set_password(conn, user_id, "a brand new passphrase")
        with pytest.raises(passwords.PasswordPolicyError):
            passwords.set_password(conn, user_id, "short")
        assert passwords.verify(conn, "changer", "a brand new passphrase") == user_id
        assert passwords.verify(conn, "changer", PASSWORD) is None


def test_a_hash_made_with_older_parameters_is_replaced_at_the_next_sign_in(db: Database) -> None:
    weaker = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    with db.engine.begin() as conn:
        user_id = create_user(conn, "old-timer").id
        passwords.store_hash(conn, user_id, weaker.hash(PASSWORD))
    old = _hash_of(db, user_id)
    with db.engine.begin() as conn:
        assert passwords.verify(conn, "old-timer", "a wrong passphrase") is None
    assert _hash_of(db, user_id) == old  # a wrong password re-hashes nothing
    with db.engine.begin() as conn:
        assert passwords.verify(conn, "old-timer", PASSWORD) == user_id
    new = _hash_of(db, user_id)
    assert new is not None
    assert new != old
    assert "m=65536,t=3,p=4" in new
    assert not passwords.HASHER.check_needs_rehash(new)
    with db.engine.begin() as conn:
        assert passwords.verify(conn, "old-timer", PASSWORD) == user_id
    assert _hash_of(db, user_id) == new  # current parameters: kept
