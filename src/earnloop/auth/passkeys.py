"""Passkeys (WebAuthn; fingerprint pay, 指紋付): a user registers passkeys, lists and removes them, and
confirms an action with one (ADR 0031). The ceremonies are the ``webauthn`` package's; this module owns
their state: the credentials (public key, last sign count) and the challenges.

A challenge is random, lives five minutes and is used once: claiming it marks it used in the same unit
of work that checks the answer, so a refused answer (which rolls the unit back) leaves it usable and an
accepted one can never be replayed. An assertion must come from one of the configured origins, for our
RP id, from a passkey of the same user, with user verification, and its sign count must grow whenever
either count is non-zero (a count that does not grow means a cloned authenticator).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_authentication_credential_json, parse_registration_credential_json
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from earnloop import bounds
from earnloop.auth.models import passkey_challenges, user_passkeys
from earnloop.errors import DomainError

CHALLENGE_TTL_NS = 5 * 60 * 1_000_000_000
PURPOSE_REGISTER = "register"
PURPOSE_CONFIRM = "confirm"
MAX_PASSKEYS = 20
NAME_MAX = 64
CHALLENGE_ID_MAX = 64
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]


class PasskeyError(DomainError):
    """A passkey operation refused (the message says why); nothing changed."""

    status = 400
    slug = "passkey-refused"
    title = "Passkey refused"


class PasskeyNameError(PasskeyError):
    status = 422
    slug = "invalid-request"
    title = "Invalid request"


class TooManyPasskeysError(PasskeyError):
    status = 409
    slug = "passkey-limit"
    title = "Too many passkeys"


class ChallengeError(PasskeyError):
    """The ceremony's challenge is unknown, another user's, expired or used already."""

    status = 409
    slug = "passkey-challenge-invalid"
    title = "Passkey request expired or used"


class RegistrationRefusedError(PasskeyError):
    slug = "passkey-registration-refused"
    title = "Passkey not registered"


class AssertionRefusedError(PasskeyError):
    """The assertion did not check out (origin, RP id, signature, user verification, sign count…)."""

    status = 403
    slug = "passkey-assertion-refused"
    title = "Passkey confirmation refused"


class NoPasskeyError(PasskeyError):
    status = 409
    slug = "passkey-required"
    title = "A passkey is needed"


class UnknownPasskeyError(PasskeyError):
    status = 404
    slug = "passkey-not-found"
    title = "No such passkey"


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """Who the passkeys are for: the RP id (a domain), its display name, the origins ceremonies may use."""

    id: str
    name: str
    origins: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Passkey:
    id: int
    name: str
    created_at_ns: int
    last_used_at_ns: int | None
    sign_count: int
    transports: tuple[str, ...]


def _now(now_ns: int | None) -> int:
    return time.time_ns() if now_ns is None else now_ns


def _user_handle(user_id: int) -> bytes:
    """The WebAuthn user handle: the user's id (no personal data), so an authenticator keeps one
    credential per user of this RP."""
    return user_id.to_bytes(8, "big")


def _checked_name(name: str) -> str:
    chosen = " ".join(name.split())
    if not 1 <= len(chosen) <= NAME_MAX:
        raise PasskeyNameError(f"name: 1–{NAME_MAX} characters")
    return chosen


def _transports(text: str) -> list[AuthenticatorTransport]:
    known = {transport.value: transport for transport in AuthenticatorTransport}
    return [known[name] for name in text.split() if name in known]


def _descriptors(conn: Connection, user_id: int) -> list[PublicKeyCredentialDescriptor]:
    rows = conn.execute(
        select(user_passkeys.c.credential_id, user_passkeys.c.transports)
        .where(user_passkeys.c.user_id == user_id)
        .order_by(user_passkeys.c.id)
    )
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(row.credential_id), transports=_transports(row.transports) or None
        )
        for row in rows
    ]


def _new_challenge(
    conn: Connection, user_id: int, purpose: str, action_json: str | None, now: int
) -> tuple[str, bytes]:
    """A fresh challenge (its id and bytes); the user's expired and used ones are dropped."""
    conn.execute(
        delete(passkey_challenges).where(
            passkey_challenges.c.user_id == user_id,
            or_(passkey_challenges.c.expires_at_ns <= now, passkey_challenges.c.used_at_ns.is_not(None)),
        )
    )
    challenge_id = secrets.token_urlsafe(24)
    challenge = secrets.token_bytes(32)
    conn.execute(
        insert(passkey_challenges).values(
            id=challenge_id,
            user_id=user_id,
            purpose=purpose,
            challenge=challenge,
            action_json=action_json,
            created_at_ns=now,
            expires_at_ns=now + CHALLENGE_TTL_NS,
        )
    )
    return challenge_id, challenge


def _claim_challenge(
    conn: Connection, user_id: int, challenge_id: str, purpose: str, now: int
) -> tuple[bytes, str | None]:
    """Mark the challenge used (once, before it expires, by its own user); its bytes and action."""
    if not 0 < len(challenge_id) <= CHALLENGE_ID_MAX:
        raise ChallengeError("this passkey request is unknown; start again")
    table = passkey_challenges.c
    claimed = conn.execute(
        update(passkey_challenges)
        .where(
            table.id == challenge_id,
            table.user_id == user_id,
            table.purpose == purpose,
            table.used_at_ns.is_(None),
            table.expires_at_ns > now,
        )
        .values(used_at_ns=now)
    )
    if claimed.rowcount != 1:
        raise ChallengeError("this passkey request is unknown, expired or used already; start again")
    return conn.execute(select(table.challenge, table.action_json).where(table.id == challenge_id)).one()


def _parsed(credential_json: str | bytes) -> dict[str, Any]:
    try:
        value = bounds.loads(credential_json)
    except ValueError as exc:
        raise PasskeyError("the passkey's answer is not valid JSON") from exc
    if not isinstance(value, dict):
        raise PasskeyError("the passkey's answer is not a JSON object")
    return value


def begin_registration(
    conn: Connection, user_id: int, handle: str, rp: RelyingParty, *, now_ns: int | None = None
) -> tuple[str, str]:
    """Start registering a passkey: the challenge's id and the options (JSON) for
    ``navigator.credentials.create``. The user's passkeys are excluded (one per authenticator)."""
    existing = _descriptors(conn, user_id)
    if len(existing) >= MAX_PASSKEYS:
        raise TooManyPasskeysError(f"at most {MAX_PASSKEYS} passkeys; remove one first")
    challenge_id, challenge = _new_challenge(conn, user_id, PURPOSE_REGISTER, None, _now(now_ns))
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=handle,
        user_id=_user_handle(user_id),
        challenge=challenge,
        timeout=CHALLENGE_TTL_NS // 1_000_000,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=existing,
        supported_pub_key_algs=ALGORITHMS,
    )
    return challenge_id, options_to_json(options)


def _registration_credential(credential_json: str | bytes) -> RegistrationCredential:
    try:
        return parse_registration_credential_json(_parsed(credential_json))
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise RegistrationRefusedError(f"the passkey was not registered: {exc}") from exc


def finish_registration(
    conn: Connection,
    user_id: int,
    challenge_id: str,
    credential_json: str | bytes,
    rp: RelyingParty,
    name: str,
    *,
    now_ns: int | None = None,
) -> Passkey:
    """Check the authenticator's answer to :func:`begin_registration` and keep the passkey."""
    chosen = _checked_name(name)
    now = _now(now_ns)
    challenge, _ = _claim_challenge(conn, user_id, challenge_id, PURPOSE_REGISTER, now)
    credential = _registration_credential(credential_json)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            require_user_verification=True,
            supported_pub_key_algs=ALGORITHMS,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise RegistrationRefusedError(f"the passkey was not registered: {exc}") from exc
    transports = tuple(sorted({t.value for t in credential.response.transports or []}))
    values = {
        "user_id": user_id,
        "credential_id": credential.id,
        "public_key": verified.credential_public_key,
        "sign_count": verified.sign_count,
        "transports": " ".join(transports),
        "name": chosen,
        "created_at_ns": now,
    }
    with conn.begin_nested():
        try:
            passkey_id = conn.execute(insert(user_passkeys).values(**values).returning(user_passkeys.c.id))
            new_id = int(passkey_id.scalar_one())
        except IntegrityError as exc:
            raise RegistrationRefusedError("this passkey is registered already") from exc
    return Passkey(new_id, chosen, now, None, verified.sign_count, transports)


def list_passkeys(conn: Connection, user_id: int) -> list[Passkey]:
    """The user's passkeys, oldest first."""
    rows = conn.execute(
        select(user_passkeys).where(user_passkeys.c.user_id == user_id).order_by(user_passkeys.c.id)
    )
    return [
        Passkey(
            int(row.id),
            str(row.name),
            int(row.created_at_ns),
            None if row.last_used_at_ns is None else int(row.last_used_at_ns),
            int(row.sign_count),
            tuple(str(row.transports).split()),
        )
        for row in rows
    ]


def has_passkey(conn: Connection, user_id: int) -> bool:
    found = conn.execute(select(user_passkeys.c.id).where(user_passkeys.c.user_id == user_id).limit(1))
    return found.first() is not None


def remove_passkey(conn: Connection, user_id: int, passkey_id: int) -> None:
    """Remove one of the user's own passkeys (another user's is "not found", and stays)."""
    removed = conn.execute(
        delete(user_passkeys).where(user_passkeys.c.id == passkey_id, user_passkeys.c.user_id == user_id)
    )
    if removed.rowcount != 1:
        raise UnknownPasskeyError("no such passkey among yours")


def begin_confirmation(
    conn: Connection, user_id: int, action_json: str, rp: RelyingParty, *, now_ns: int | None = None
) -> tuple[str, str]:
    """Start confirming ``action_json`` with a passkey: the challenge's id and the options (JSON) for
    ``navigator.credentials.get`` (the user's passkeys, user verification required)."""
    allowed = _descriptors(conn, user_id)
    if not allowed:
        raise NoPasskeyError("register a passkey first")
    json.loads(action_json)  # a ValueError here is a caller's bug, not the user's
    challenge_id, challenge = _new_challenge(conn, user_id, PURPOSE_CONFIRM, action_json, _now(now_ns))
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=CHALLENGE_TTL_NS // 1_000_000,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return challenge_id, options_to_json(options)


def _authentication_credential(credential_json: str | bytes) -> AuthenticationCredential:
    try:
        return parse_authentication_credential_json(_parsed(credential_json))
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise AssertionRefusedError(f"the passkey confirmation was refused: {exc}") from exc


def finish_confirmation(
    conn: Connection,
    user_id: int,
    challenge_id: str,
    credential_json: str | bytes,
    rp: RelyingParty,
    *,
    now_ns: int | None = None,
) -> str:
    """Check the assertion answering :func:`begin_confirmation`; return the confirmed action (JSON).
    The passkey's sign count and last use are updated; the challenge cannot be used again."""
    now = _now(now_ns)
    challenge, action_json = _claim_challenge(conn, user_id, challenge_id, PURPOSE_CONFIRM, now)
    credential = _authentication_credential(credential_json)
    passkey = conn.execute(
        select(user_passkeys.c.id, user_passkeys.c.public_key, user_passkeys.c.sign_count).where(
            user_passkeys.c.credential_id == credential.id, user_passkeys.c.user_id == user_id
        )
    ).first()
    if passkey is None:
        raise AssertionRefusedError("the passkey confirmation was refused: not one of your passkeys")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            credential_public_key=passkey.public_key,
            credential_current_sign_count=int(passkey.sign_count),
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise AssertionRefusedError(f"the passkey confirmation was refused: {exc}") from exc
    counted = conn.execute(
        update(user_passkeys)
        .where(user_passkeys.c.id == passkey.id, user_passkeys.c.sign_count == passkey.sign_count)
        .values(sign_count=verified.new_sign_count, last_used_at_ns=now)
    )
    if counted.rowcount != 1:
        raise AssertionRefusedError("the passkey confirmation was refused: the passkey was used meanwhile")
    return str(action_json)
