"""Tracking service: clicks on game links and the receiving of postbacks (secrets: ``secrets``,
re-exported here).

A postback is handled in the caller's one unit of work: find the secrets that may have signed it (the
provider's, or for the ``earnloop`` scheme the clicked game's publisher's; none configured → 503
``not_configured``), verify it (``verifiers``); one the provider itself rejected pays nothing and
reverses what its event was paid (``games.undo_rejected``); otherwise claim its
``(provider, transaction id)``, then earn a milestone reward or reverse an earlier conversion
(``games``, inside a savepoint). Every request is stored as received, with its outcome. A duplicate of
an accepted transaction (a reversal included) gets the first reply verbatim; a rejected postback does
not claim its transaction id and leaves nothing of the earn path behind (a provider's retry is judged
again, e.g. once an earlier milestone has arrived).
"""

from __future__ import annotations

import json
import secrets as token_source
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import Connection, bindparam, delete, insert, select, text, update

from earnloop.catalog import service as catalog
from earnloop.catalog.errors import CatalogNotFoundError
from earnloop.db import driver
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine
from earnloop.secretbox import UNOPENED_HINT, SecretBox, SecretBoxError
from earnloop.tracking import games
from earnloop.tracking.errors import NoStoreLinkError, TrackingError
from earnloop.tracking.history import conversions_of_user
from earnloop.tracking.models import tracking_clicks, tracking_conversions, tracking_game_links
from earnloop.tracking.models import tracking_postbacks as postbacks
from earnloop.tracking.secrets import (
    PER_PARTNER,
    SECRET_MAX_LEN,
    SECRET_MIN_LEN,
    active_partner_secrets,
    active_secrets,
    earnloop_signer,
    list_partner_secrets,
    list_provider_secrets,
    partner_hint,
    provider_hint,
    secret_fits,
    set_partner_secret,
    set_provider_secret,
    store_secret,
    stored_row,
)
from earnloop.tracking.verifiers import (
    GenericVerifier,
    PostbackRejected,
    RawPostback,
    Registry,
    VerifiedPostback,
    verifier_for,
)

__all__ = [
    "SECRET_MAX_LEN",
    "SECRET_MIN_LEN",
    "NoStoreLinkError",
    "Reply",
    "TrackingError",
    "active_partner_secrets",
    "active_secrets",
    "conversions_of_user",
    "handle_postback",
    "list_partner_secrets",
    "list_postbacks",
    "list_provider_secrets",
    "record_click",
    "secret_fits",
    "set_game_link",
    "set_partner_secret",
    "set_provider_secret",
    "store_secret",
    "store_url",
    "stored_row",
]

BODY_MAX_BYTES = 64 * 1024
DEVICE_ID_MAX_CHARS = 128
PROBLEM_TYPE = "https://earnloop.dev/problems/postback-rejected"
PROBLEM_CONTENT_TYPE = "application/problem+json"
_REDACTED_HEADERS = frozenset({"authorization", "cookie", "x-api-key"})

# Reason code → HTTP status of the rejection. Verification failures say "do not retry" (403/400);
# business rejections are 422 (a provider may retry, and the retry is judged again).
_STATUS = {
    "bad_signature": 403,
    "ip_not_allowed": 403,
    "stale_timestamp": 403,
    "malformed": 400,
    "missing_field": 400,
    "unknown_provider": 404,
    "not_configured": 503,
    "risk_denied": 403,  # final: the transaction keeps this reply, a retry gets it again
}
RISK_DENIED = "risk_denied"
BUSINESS_STATUS = 422


@dataclass(frozen=True)
class Reply:
    """An HTTP answer to a postback, stored so that a duplicate gets the first one verbatim."""

    status: int
    content_type: str
    body: bytes


# -- clicks -------------------------------------------------------------------------------------------
def set_game_link(conn: Connection, *, game_id: int, template: str | None, now_ns: int) -> dict[str, Any]:
    """Set (or with ``None`` remove) a game's tracking template: an https URL containing ``{click_id}``."""
    catalog.get_game(conn, game_id)
    conn.execute(delete(tracking_game_links).where(tracking_game_links.c.game_id == game_id))
    if template is not None:
        if not template.startswith("https://") or "{click_id}" not in template or len(template) > 1000:
            raise TrackingError("template: an https URL of at most 1000 characters containing {click_id}")
        conn.execute(
            insert(tracking_game_links).values(game_id=game_id, template=template, updated_at_ns=now_ns)
        )
    return {"game_id": game_id, "template": template}


def store_url(
    *,
    app_store_id: str | None,
    play_package: str | None,
    user_agent: str,
    click_id: str,
    template: str | None = None,
) -> str | None:
    """Where a click goes: the tracking template, else the App Store (Apple devices) or Google Play,
    each carrying the click id (App Store campaign token ``ct``, Play install ``referrer``)."""
    if template:
        return template.replace("{click_id}", quote(click_id, safe=""))
    apple = f"https://apps.apple.com/app/id{app_store_id}?ct={click_id}" if app_store_id else None
    play = (
        "https://play.google.com/store/apps/details?"
        + urlencode({"id": play_package, "referrer": f"click_id={click_id}"})
        if play_package
        else None
    )
    agent = user_agent.lower()
    if apple and any(mark in agent for mark in ("iphone", "ipad", "ipod", "macintosh")):
        return apple
    return play or apple


def record_click(
    conn: Connection,
    *,
    user_id: int,
    game_id: int,
    user_agent: str,
    client_ip: str,
    now_ns: int,
    risk: RiskEngine,
    device_id: str | None = None,
) -> dict[str, Any]:
    """Record a user's click on an active game and return its id and destination; the click feeds the
    risk engine's velocity windows (``device_id``: the app's device identifier, when it sends one)."""
    game = catalog.game_row(conn, game_id)
    if game is None or game.status != "active":
        raise CatalogNotFoundError(f"no active game {game_id}")
    template = conn.execute(
        select(tracking_game_links.c.template).where(tracking_game_links.c.game_id == game_id)
    ).scalar()
    click_id = token_source.token_urlsafe(16)
    location = store_url(
        app_store_id=game.app_store_id,
        play_package=game.play_package,
        user_agent=user_agent,
        click_id=click_id,
        template=template,
    )
    if location is None:
        raise NoStoreLinkError(f"game {game.key!r} has neither an App Store id nor a Play package")
    conn.execute(
        insert(tracking_clicks).values(
            click_id=click_id,
            user_id=user_id,
            game_id=game_id,
            user_agent=user_agent[:500],
            client_ip=client_ip[:64],
            device_id=device_id[:DEVICE_ID_MAX_CHARS] if device_id else None,
            destination=location,
            created_at_ns=now_ns,
        )
    )
    device_id = device_id[:DEVICE_ID_MAX_CHARS] if device_id else None
    games.observe_click(risk, click_id, game_id, user_id, user_agent, client_ip[:64], device_id, now_ns)
    return {"click_id": click_id, "game_id": game_id, "location": location}


# -- postbacks ----------------------------------------------------------------------------------------
# The postback path's statements, built once (the claim is the same SQL on SQLite and PostgreSQL) and
# run on the driver (``earnloop.db.driver``): SQLAlchemy's per-statement cost dominates this path.
_RECORD = insert(postbacks)
_CLAIM = text(
    "INSERT INTO tracking_conversions"
    " (provider, transaction_id, amount, reply_status, reply_content_type, reply_body, created_at_ns)"
    " VALUES (:provider, :transaction_id, 0, 0, '', :reply_body, :created_at_ns)"
    " ON CONFLICT DO NOTHING RETURNING id"
)
_FIRST_REPLY = select(tracking_conversions).where(
    tracking_conversions.c.provider == bindparam("provider"),
    tracking_conversions.c.transaction_id == bindparam("transaction_id"),
)
_UNCLAIM = delete(tracking_conversions).where(tracking_conversions.c.id == bindparam("conversion_id"))
# SET takes the columns named in the parameters (the conversion's row and the reply).
_ACCEPT = update(tracking_conversions).where(tracking_conversions.c.id == bindparam("conversion_id"))


def _rejection(code: str, message: str) -> Reply:
    status = _STATUS.get(code, BUSINESS_STATUS)
    body = {
        "type": PROBLEM_TYPE,
        "title": "Postback rejected",
        "status": status,
        "detail": message,
        "reason_code": code,
    }
    return Reply(status, PROBLEM_CONTENT_TYPE, json.dumps(body).encode())


def _record(
    conn: Connection,
    raw: RawPostback,
    provider: str,
    *,
    outcome: str,
    reply: Reply,
    now_ns: int,
    reason_code: str | None = None,
    claim: VerifiedPostback | None = None,
    redact: frozenset[str] = _REDACTED_HEADERS,
) -> None:
    headers = {k: ("<redacted>" if k.lower() in redact else v) for k, v in raw.headers.items()}
    driver.execute(
        conn,
        _RECORD,
        {
            "provider": provider[:40],
            "method": raw.method[:8],
            "path": raw.path[:500],
            "query_string": raw.query_string,
            "headers_json": json.dumps(headers, sort_keys=True),
            "body": raw.body[:BODY_MAX_BYTES],
            "client_ip": raw.client_ip[:64],
            "outcome": outcome,
            "reason_code": reason_code,
            "transaction_id": None if claim is None else claim.transaction_id,
            "click_id": None if claim is None else claim.click_id,
            "event_key": None if claim is None else claim.event_key,
            "reported_amount": (
                None if claim is None or claim.reported_amount is None else str(claim.reported_amount)[:60]
            ),
            "reply_status": reply.status,
            "received_at_ns": now_ns,
        },
    )


def _reject(
    conn: Connection,
    raw: RawPostback,
    provider: str,
    code: str,
    message: str,
    now_ns: int,
    claim: VerifiedPostback | None = None,
    redact: frozenset[str] = _REDACTED_HEADERS,
) -> Reply:
    reply = _rejection(code, message)
    _record(
        conn,
        raw,
        provider,
        outcome="rejected",
        reply=reply,
        now_ns=now_ns,
        reason_code=code,
        claim=claim,
        redact=redact,
    )
    return reply


class _Refused(Exception):  # noqa: N818 -- control flow: refused before verification, with a reason code
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _secrets_for(conn: Connection, provider: str, raw: RawPostback, box: SecretBox | None) -> list[str]:
    """The active secrets that may have signed ``raw``: the provider's, or for the ``earnloop`` scheme
    those of the publisher of the game the body's click id was recorded for (ADR 0016); opened with
    ``box`` (its cache: no decryption after the first postback)."""
    if provider != PER_PARTNER:
        found = active_secrets(conn, provider, box)
        if not found:
            raise _Refused(
                "not_configured", f"no active secret for {provider}: set one with {provider_hint(provider)}"
            )
        return found
    click_id = GenericVerifier.click_id_hint(raw.body)
    if click_id is None:
        raise _Refused("malformed", "the body is not a JSON object naming a click_id")
    signer = earnloop_signer(conn, click_id, box)
    if signer is None:
        raise _Refused("unknown_click", "no click with this id")
    if signer.publisher_id is None:
        raise _Refused(
            "not_configured",
            f"game {signer.game_key!r} has no publisher to sign its earnloop postbacks: set its publisher_id "
            "in the catalog, then the publisher's secret",
        )
    if not signer.secrets:
        raise _Refused(
            "not_configured",
            f"the publisher of game {signer.game_key!r} has no active earnloop secret: set one with "
            + partner_hint(signer.publisher_id),
        )
    return signer.secrets


def _verified(
    conn: Connection,
    raw: RawPostback,
    provider: str,
    verifiers: Registry | None,
    now_ns: int,
    box: SecretBox | None,
) -> VerifiedPostback:
    """What the postback claims once authenticated; :class:`PostbackRejected` or :class:`_Refused`."""
    verifier = verifier_for(provider, verifiers)
    try:
        secrets = _secrets_for(conn, provider, raw, box)
    except SecretBoxError:  # the keys were changed too early: ours to fix, the sender retries (503)
        raise _Refused("not_configured", UNOPENED_HINT) from None
    claim = verifier.verify(raw, secrets, now_ns // 10**9)
    if provider == PER_PARTNER and claim.click_id != GenericVerifier.click_id_hint(raw.body):
        raise _Refused("malformed", "the signed click_id is not the one whose publisher's secret verified")
    return claim


def _secret_headers(verifiers: Registry | None) -> frozenset[str]:
    """Headers never stored: credentials, and the header carrying AppsFlyer's push token."""
    appsflyer = verifier_for("appsflyer", verifiers)
    token_header = getattr(appsflyer, "token_header", "authorization")
    return _REDACTED_HEADERS | {str(token_header).lower()}


def handle_postback(
    conn: Connection,
    ledger: LedgerService,
    raw: RawPostback,
    *,
    provider: str,
    now_ns: int,
    risk: RiskEngine,
    verifiers: Registry | None = None,
    box: SecretBox | None = None,
) -> Reply:
    """Verify, deduplicate, bind and reward one postback (see the module docstring). Never commits.
    ``risk``: the engine that screens the reward (a ``deny`` is answered 403 ``risk_denied``, kept as the
    transaction's reply: the provider's retries get it again).
    ``verifiers``: the providers' verifiers as the settings configure them (default: published values);
    ``box``: opens the stored secrets (default: the process's, from its settings)."""
    redact = _secret_headers(verifiers)
    if len(raw.body) > BODY_MAX_BYTES:
        message = f"body larger than {BODY_MAX_BYTES} bytes"
        return _reject(conn, raw, provider, "malformed", message, now_ns, redact=redact)
    try:
        claim = _verified(conn, raw, provider, verifiers, now_ns, box)
    except PostbackRejected as exc:
        return _reject(conn, raw, provider, exc.reason_code.value, exc.message, now_ns, redact=redact)
    except _Refused as exc:
        return _reject(conn, raw, provider, exc.code, exc.message, now_ns, redact=redact)
    if claim.rejected_reason is not None:
        return _provider_rejected(conn, ledger, raw, provider, claim, now_ns, redact)
    return _settle(conn, ledger, raw, provider, claim, now_ns, redact, risk)


def _provider_rejected(
    conn: Connection,
    ledger: LedgerService,
    raw: RawPostback,
    provider: str,
    claim: VerifiedPostback,
    now_ns: int,
    redact: frozenset[str],
) -> Reply:
    """The provider rejected the install or event: pay nothing, take back what it was paid, and record
    the request as rejected (its transaction id is not claimed)."""
    try:
        with driver.savepoint(conn):
            reversed_amount = games.undo_rejected(conn, ledger, provider, claim)
    except games.Rejected as exc:
        return _reject(conn, raw, provider, exc.code, exc.message, now_ns, claim, redact)
    message = f"{provider} rejected this event ({claim.rejected_reason}): nothing is paid"
    if reversed_amount:
        message += f"; the {reversed_amount} minor units paid for it were reversed"
    return _reject(conn, raw, provider, "provider_rejected", message, now_ns, claim, redact)


def _settle(
    conn: Connection,
    ledger: LedgerService,
    raw: RawPostback,
    provider: str,
    claim: VerifiedPostback,
    now_ns: int,
    redact: frozenset[str],
    risk: RiskEngine,
) -> Reply:
    txn = {"provider": provider, "transaction_id": claim.transaction_id}
    claimed = driver.first(conn, _CLAIM, {**txn, "reply_body": b"", "created_at_ns": now_ns})
    if claimed is None:  # an accepted duplicate (on PostgreSQL, after the first one committed)
        first = driver.first(conn, _FIRST_REPLY, txn)
        reply = Reply(first.reply_status, first.reply_content_type, bytes(first.reply_body))
        _record(
            conn, raw, provider, outcome="duplicate", reply=reply, now_ns=now_ns, claim=claim, redact=redact
        )
        return reply
    conversion_id = int(claimed.id)
    try:
        with driver.savepoint(conn):  # a rejection leaves nothing of the earn path behind
            done = games.settle(conn, ledger, provider, claim, now_ns, risk)
    except games.Rejected as exc:
        driver.execute(conn, _UNCLAIM, {"conversion_id": conversion_id})
        return _reject(conn, raw, provider, exc.code, exc.message, now_ns, claim, redact)
    if done.denied is not None:
        message = f"refused by risk screening ({' '.join(done.denied.reasons)})"
        reply = _rejection(RISK_DENIED, message)
    else:
        verifier = verifier_for(provider)
        reply = Reply(200, verifier.success_content_type, verifier.success_body())
    driver.execute(
        conn,
        _ACCEPT,
        {
            "conversion_id": conversion_id,
            **done.row(),
            "reply_status": reply.status,
            "reply_content_type": reply.content_type,
            "reply_body": reply.body,
        },
    )
    outcome = "rejected" if done.denied else "duplicate" if done.duplicate else "accepted"
    reason = RISK_DENIED if done.denied else None
    _record(
        conn,
        raw,
        provider,
        outcome=outcome,
        reply=reply,
        now_ns=now_ns,
        reason_code=reason,
        claim=claim,
        redact=redact,
    )
    return reply


def list_postbacks(
    conn: Connection, *, provider: str | None = None, outcome: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Recent postbacks as received, newest first (operators' view of rejections)."""
    query = select(postbacks).order_by(postbacks.c.id.desc()).limit(limit)
    if provider:
        query = query.where(postbacks.c.provider == provider)
    if outcome:
        query = query.where(postbacks.c.outcome == outcome)
    return [
        {
            "postback_id": r.id,
            "provider": r.provider,
            "method": r.method,
            "outcome": r.outcome,
            "reason_code": r.reason_code,
            "transaction_id": r.transaction_id,
            "click_id": r.click_id,
            "event_key": r.event_key,
            "reported_amount": r.reported_amount,
            "reply_status": r.reply_status,
            "received_at_ns": r.received_at_ns,
        }
        for r in conn.execute(query)
    ]
