"""Passkeys in the auth domain, on SQLite and PostgreSQL: registration, listing, removal, and the checks
of a confirmation (challenge, origin, RP id, user verification, sign count), with a software
authenticator standing in for the browser."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy import Connection

from earnloop.auth import passkeys
from earnloop.auth import service as auth
from earnloop.db.engine import Database
from tests.integration.web.soft_authenticator import ORIGIN, RP_ID, SoftAuthenticator

RP = passkeys.RelyingParty(RP_ID, "earnloop", (ORIGIN,))
ACTION = json.dumps({"kind": "pay", "amount_minor": 60_000, "currency": "TWD", "summary": "x", "params": {}})
T = TypeVar("T")


def run(db: Database, work: Callable[[Connection], T]) -> T:
    with db.uow() as conn:
        return work(conn)


def new_user(db: Database, handle: str) -> int:
    return run(db, lambda conn: auth.create_user(conn, handle).id)


def register(db: Database, user_id: int, device: SoftAuthenticator, **lie: Any) -> passkeys.Passkey:
    challenge_id, options = run(db, lambda conn: passkeys.begin_registration(conn, user_id, "someone", RP))
    answer = json.dumps(device.create(json.loads(options), **lie))
    return run(db, lambda c: passkeys.finish_registration(c, user_id, challenge_id, answer, RP, "My phone"))


def begin(db: Database, user_id: int) -> tuple[str, dict[str, Any]]:
    challenge_id, options = run(db, lambda conn: passkeys.begin_confirmation(conn, user_id, ACTION, RP))
    return challenge_id, json.loads(options)


def finish(db: Database, user_id: int, challenge_id: str, answer: dict[str, Any], **kw: Any) -> str:
    text = json.dumps(answer)
    return run(db, lambda c: passkeys.finish_confirmation(c, user_id, challenge_id, text, RP, **kw))


def test_a_registered_passkey_is_listed_and_offered_for_confirmations(db: Database) -> None:
    user_id = new_user(db, "pk-owner")
    device = SoftAuthenticator()
    added = register(db, user_id, device)
    listed = run(db, lambda conn: passkeys.list_passkeys(conn, user_id))
    assert [(p.id, p.name, p.transports, p.last_used_at_ns) for p in listed] == [
        (added.id, "My phone", ("internal",), None)
    ]
    _, options = begin(db, user_id)
    assert [c["id"] for c in options["allowCredentials"]] == [device.id]
    assert options["userVerification"] == "required"
    assert options["rpId"] == RP_ID


@pytest.mark.parametrize(
    "lie", [{"origin": "http://localhost.evil.example"}, {"rp_id": "evil.example"}, {"uv": False}]
)
def test_a_registration_from_another_origin_or_rp_or_without_verification_is_refused(
    db: Database, lie: dict[str, Any]
) -> None:
    user_id = new_user(db, "pk-liar")
    with pytest.raises(passkeys.RegistrationRefusedError):
        register(db, user_id, SoftAuthenticator(), **lie)
    assert run(db, lambda conn: passkeys.list_passkeys(conn, user_id)) == []


def test_a_registration_challenge_is_used_once(db: Database) -> None:
    user_id = new_user(db, "pk-replay")
    device = SoftAuthenticator()
    challenge_id, options = run(db, lambda conn: passkeys.begin_registration(conn, user_id, "pk-replay", RP))
    answer = json.dumps(device.create(json.loads(options)))
    run(db, lambda c: passkeys.finish_registration(c, user_id, challenge_id, answer, RP, "one"))
    with pytest.raises(passkeys.ChallengeError):
        run(db, lambda c: passkeys.finish_registration(c, user_id, challenge_id, answer, RP, "two"))
    assert len(run(db, lambda conn: passkeys.list_passkeys(conn, user_id))) == 1


def test_a_good_assertion_confirms_the_action_once_and_counts_the_use(db: Database) -> None:
    user_id = new_user(db, "pk-good")
    device = SoftAuthenticator()
    register(db, user_id, device)
    challenge_id, options = begin(db, user_id)
    answer = device.get(options)
    assert finish(db, user_id, challenge_id, answer) == ACTION
    with pytest.raises(passkeys.ChallengeError):
        finish(db, user_id, challenge_id, answer)
    (listed,) = run(db, lambda conn: passkeys.list_passkeys(conn, user_id))
    assert listed.sign_count == 1
    assert listed.last_used_at_ns is not None


@pytest.mark.parametrize(
    "lie",
    [
        {"origin": "http://127.0.0.1:8000"},
        {"rp_id": "evil.example"},
        {"challenge": "bm90LXRoZS1jaGFsbGVuZ2U"},
        {"uv": False},
        {"sign_count": 3},  # not above the stored 3
        {"sign_count": 2},
    ],
)
def test_an_assertion_that_does_not_check_out_is_refused_and_confirms_nothing(
    db: Database, lie: dict[str, Any]
) -> None:
    user_id = new_user(db, "pk-refused")
    device = SoftAuthenticator(sign_count=3)
    register(db, user_id, device)
    challenge_id, options = begin(db, user_id)
    with pytest.raises(passkeys.AssertionRefusedError):
        finish(db, user_id, challenge_id, device.get(options, **lie))
    (listed,) = run(db, lambda conn: passkeys.list_passkeys(conn, user_id))
    assert (listed.sign_count, listed.last_used_at_ns) == (3, None)


def test_an_authenticator_that_never_counts_is_accepted_while_both_counts_are_zero(db: Database) -> None:
    user_id = new_user(db, "pk-zero")
    device = SoftAuthenticator()
    register(db, user_id, device)
    for _ in range(2):
        challenge_id, options = begin(db, user_id)
        assert finish(db, user_id, challenge_id, device.get(options, sign_count=0)) == ACTION


def test_a_challenge_is_its_users_own_and_expires_after_five_minutes(db: Database) -> None:
    owner, other = new_user(db, "pk-a"), new_user(db, "pk-b")
    device, other_device = SoftAuthenticator(), SoftAuthenticator()
    register(db, owner, device)
    register(db, other, other_device)
    challenge_id, options = begin(db, owner)
    with pytest.raises(passkeys.ChallengeError):
        finish(db, other, challenge_id, other_device.get(options))
    with pytest.raises(passkeys.AssertionRefusedError):  # the other user's passkey on the owner's challenge
        finish(db, owner, challenge_id, other_device.get(options))
    late = run(db, lambda conn: passkeys.begin_confirmation(conn, owner, ACTION, RP, now_ns=1_000))
    with pytest.raises(passkeys.ChallengeError):
        finish(db, owner, late[0], device.get(json.loads(late[1])), now_ns=1_000 + passkeys.CHALLENGE_TTL_NS)
    assert finish(db, owner, challenge_id, device.get(options)) == ACTION


def test_only_the_owner_removes_a_passkey_and_without_one_there_is_no_confirmation(db: Database) -> None:
    owner, other = new_user(db, "pk-keeper"), new_user(db, "pk-thief")
    added = register(db, owner, SoftAuthenticator())
    with pytest.raises(passkeys.UnknownPasskeyError):
        run(db, lambda conn: passkeys.remove_passkey(conn, other, added.id))
    assert len(run(db, lambda conn: passkeys.list_passkeys(conn, owner))) == 1
    run(db, lambda conn: passkeys.remove_passkey(conn, owner, added.id))
    assert run(db, lambda conn: passkeys.list_passkeys(conn, owner)) == []
    with pytest.raises(passkeys.NoPasskeyError):
        begin(db, owner)


def test_the_same_passkey_cannot_be_registered_twice(db: Database) -> None:
    user_id = new_user(db, "pk-twice")
    device = SoftAuthenticator()
    register(db, user_id, device)
    with pytest.raises(passkeys.RegistrationRefusedError):
        register(db, user_id, device)


def test_a_user_has_at_most_twenty_passkeys(db: Database) -> None:
    user_id = new_user(db, "pk-many")
    for _ in range(passkeys.MAX_PASSKEYS):
        register(db, user_id, SoftAuthenticator())
    with pytest.raises(passkeys.TooManyPasskeysError):
        register(db, user_id, SoftAuthenticator())
    assert len(run(db, lambda conn: passkeys.list_passkeys(conn, user_id))) == passkeys.MAX_PASSKEYS
