"""Partner list feeds (issue 15, ADR 0026): partners share blocklists as signed documents.

Owns the registry of feed partners (name = the feed's issuer, Ed25519 public key), :func:`import_feed`
(verify format, issuer and signature; refuse a feed no newer than the last one imported from that
issuer; replace that partner's previous entries, which carry source ``feed:<partner>``) and
:func:`export_feed` (our active block entries from the sources we share, signed with our key). A refused
feed raises before the unit of work commits: nothing changes. Encoding and signatures:
:mod:`earnloop.risk.feed_signing`.

A feed document::

    {"format": "earnloop-risk-feed/1", "issuer": "acme", "sequence": 42,
     "issued_at": "2026-12-07T19:45:00Z",
     "entries": [{"key": "device", "value": "abc", "list": "block",
                  "expires_at": "2027-01-01T00:00:00Z" | null, "reason": "device farm"}],
     "signature": "<base64url Ed25519 signature>"}
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from earnloop.bounds import loads
from earnloop.risk import feed_signing
from earnloop.risk.list_errors import (
    DuplicateFeedPartnerError,
    FeedRefusedError,
    FeedReplayedError,
    RiskInputError,
    RiskNotFoundError,
)
from earnloop.risk.list_models import risk_feed_partners, risk_list_entries
from earnloop.risk.lists import FEED_SOURCE_PREFIX, LOCAL_SOURCES, NewEntry, entry_values
from earnloop.risk.normalise import DEFAULT_PHONE_REGION

ENTRIES_MAX = 100_000
PARTNER_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_MEMBERS = {"format", "issuer", "sequence", "issued_at", "entries", "signature"}
_ENTRY_MEMBERS = {"key", "value", "list", "expires_at", "reason"}
SEQUENCE_MAX = (1 << 63) - 1
INSERT_BATCH = 1_000


@dataclass(frozen=True, slots=True)
class FeedPartner:
    name: str
    public_key: str
    last_sequence: int | None
    last_imported_at_ns: int | None


@dataclass(frozen=True, slots=True)
class ImportResult:
    issuer: str
    sequence: int
    imported: int  # entries now active from this partner
    replaced: int  # the partner's entries this feed removed
    skipped_expired: int  # entries already expired when imported
    already_imported: bool = False  # the same signed feed again: nothing changed


def check_partner_name(name: str) -> str:
    if not PARTNER_NAME.fullmatch(name):
        raise RiskInputError("partner name: 1 to 64 of a-z, 0-9, _ . - starting with a letter or digit")
    return name


def add_partner(conn: Connection, name: str, public_key: str, *, now_ns: int | None = None) -> FeedPartner:
    """Register a partner whose feeds we import, with its Ed25519 public key (base64)."""
    feed_signing.parse_public_key(public_key)
    key_text = public_key.strip()
    values = {
        "name": check_partner_name(name),
        "public_key": key_text,
        "created_at_ns": time.time_ns() if now_ns is None else now_ns,
    }
    with conn.begin_nested():
        try:
            conn.execute(insert(risk_feed_partners).values(**values))
        except IntegrityError as exc:
            raise DuplicateFeedPartnerError(f"feed partner {name!r} exists") from exc
    return FeedPartner(name, key_text, None, None)


def partners(conn: Connection) -> list[FeedPartner]:
    rows = conn.execute(select(risk_feed_partners).order_by(risk_feed_partners.c.name))
    return [FeedPartner(r.name, r.public_key, r.last_sequence, r.last_imported_at_ns) for r in rows]


def _partner_row(conn: Connection, issuer: str) -> Any:
    row = conn.execute(select(risk_feed_partners).where(risk_feed_partners.c.name == issuer)).first()
    if row is None:
        raise FeedRefusedError(f"unknown issuer {issuer!r}: register it with its public key first")
    return row


def parse_document(data: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """The feed's JSON object (text, or already parsed) with its members checked (not yet its
    signature)."""
    try:
        document = data if isinstance(data, dict) else loads(data)
    except (ValueError, RecursionError) as exc:
        raise FeedRefusedError(f"not a JSON document: {str(exc)[:120]}") from exc
    if not isinstance(document, dict) or set(document) != _MEMBERS:
        raise FeedRefusedError(f"a feed is a JSON object with exactly: {', '.join(sorted(_MEMBERS))}")
    if document["format"] != feed_signing.FORMAT:
        raise FeedRefusedError(f"format: expected {feed_signing.FORMAT!r}")
    if not isinstance(document["issuer"], str) or not PARTNER_NAME.fullmatch(document["issuer"]):
        raise FeedRefusedError("issuer: a partner name (a-z, 0-9, _ . -)")
    sequence = document["sequence"]
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 < sequence <= SEQUENCE_MAX:
        raise FeedRefusedError("sequence: a positive 64-bit integer, larger in each newer feed")
    parse_time("issued_at", document["issued_at"])
    entries = document["entries"]
    if not isinstance(entries, list) or len(entries) > ENTRIES_MAX:
        raise FeedRefusedError(f"entries: a list of at most {ENTRIES_MAX} entries")
    return document


def verify_feed(conn: Connection, data: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """The feed, once its format is right, its issuer registered and its signature verified."""
    document = parse_document(data)
    feed_signing.verify(document, _partner_row(conn, document["issuer"]).public_key)
    return document


def parse_time(what: str, value: object) -> int:
    """An RFC 3339 timestamp with an offset, in ns since the epoch."""
    if not isinstance(value, str) or len(value) > 40:
        raise FeedRefusedError(f"{what}: an RFC 3339 timestamp")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise FeedRefusedError(f"{what}: {value!r} is not an RFC 3339 timestamp") from exc
    if moment.tzinfo is None:
        raise FeedRefusedError(f"{what}: {value!r} has no UTC offset")
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000


def format_time(at_ns: int) -> str:
    return datetime.fromtimestamp(at_ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entry_rows(document: dict[str, Any], now_ns: int, phone_region: str) -> tuple[list[dict[str, Any]], int]:
    """The rows the feed's entries become (the last of duplicates wins), and how many had expired."""
    source = FEED_SOURCE_PREFIX + document["issuer"]
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    expired = 0
    for index, item in enumerate(document["entries"]):
        if not isinstance(item, dict) or set(item) != _ENTRY_MEMBERS:
            raise FeedRefusedError(f"entries[{index}]: an object with {', '.join(sorted(_ENTRY_MEMBERS))}")
        if item["list"] != "block":
            raise FeedRefusedError(f"entries[{index}].list: partner feeds share block entries only")
        expires = item["expires_at"]
        expires_ns = None if expires is None else parse_time(f"entries[{index}].expires_at", expires)
        if expires_ns is not None and expires_ns <= now_ns:
            expired += 1
            continue
        if not all(isinstance(item[name], str) for name in ("key", "value", "reason")):
            raise FeedRefusedError(f"entries[{index}]: key, value and reason are strings")
        entry = NewEntry("block", item["key"], item["value"], item["reason"], expires_ns)
        try:
            row = entry_values(
                entry, source=source, added_by=source, now_ns=now_ns, phone_region=phone_region
            )
        except RiskInputError as exc:
            raise FeedRefusedError(f"entries[{index}]: {exc}") from exc
        rows[(row["key"], row["value"])] = row
    return list(rows.values()), expired


def import_feed(
    conn: Connection,
    data: str | bytes | dict[str, Any],
    *,
    phone_region: str = DEFAULT_PHONE_REGION,
    now_ns: int | None = None,
) -> ImportResult:
    """Verify and import a partner's feed, replacing that partner's previous entries. Refused (nothing
    changes): a bad format, an unknown issuer, a signature that does not verify, a sequence no newer than
    the last imported. The same signed feed again answers ``already_imported`` and changes nothing."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    document = verify_feed(conn, data)
    issuer, sequence = document["issuer"], document["sequence"]
    rows, expired = _entry_rows(document, now_ns, phone_region)
    if not _claim_sequence(conn, issuer, sequence, document["signature"], now_ns):
        return _already_imported(conn, issuer, sequence, document["signature"])
    source = FEED_SOURCE_PREFIX + issuer
    table = risk_list_entries
    replaced = conn.execute(
        update(table)
        .where(table.c.source == source, table.c.removed_at_ns.is_(None))
        .values(removed_at_ns=now_ns, removed_by=f"{source}#{sequence}")
    ).rowcount
    for start in range(0, len(rows), INSERT_BATCH):
        conn.execute(insert(table), rows[start : start + INSERT_BATCH])
    return ImportResult(issuer, sequence, len(rows), replaced, expired)


def _claim_sequence(conn: Connection, issuer: str, sequence: int, signature: str, now_ns: int) -> bool:
    """Move the issuer's last sequence forward (a guarded single statement: of two concurrent imports of
    one partner, one waits and then sees the other's sequence)."""
    table = risk_feed_partners
    claimed = conn.execute(
        update(table)
        .where(table.c.name == issuer, or_(table.c.last_sequence.is_(None), table.c.last_sequence < sequence))
        .values(last_sequence=sequence, last_signature=signature, last_imported_at_ns=now_ns)
    ).rowcount
    return bool(claimed)


def _already_imported(conn: Connection, issuer: str, sequence: int, signature: str) -> ImportResult:
    row = _partner_row(conn, issuer)
    if row.last_sequence == sequence and row.last_signature == signature:
        table = risk_list_entries
        active = (
            select(func.count())
            .select_from(table)
            .where(table.c.source == FEED_SOURCE_PREFIX + issuer, table.c.removed_at_ns.is_(None))
        )
        count = int(conn.execute(active).scalar_one())
        return ImportResult(issuer, sequence, count, 0, 0, already_imported=True)
    raise FeedReplayedError(
        f"feed {issuer!r} sequence {sequence} is not newer than the last imported ({row.last_sequence})"
    )


def export_feed(
    conn: Connection,
    key: Ed25519PrivateKey,
    *,
    issuer: str,
    sources: Sequence[str] = LOCAL_SOURCES,
    now_ns: int | None = None,
) -> dict[str, Any]:
    """Our signed feed: the block entries active now whose source is one of ``sources`` (by default the
    ones we set ourselves, not other partners' feeds). Its sequence is its issue time in microseconds,
    so a later export is always newer."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    table = risk_list_entries
    query = (
        select(table.c.key, table.c.value, table.c.reason, table.c.expires_at_ns)
        .where(
            table.c.list == "block",
            table.c.source.in_(list(sources)),
            table.c.removed_at_ns.is_(None),
            or_(table.c.expires_at_ns.is_(None), table.c.expires_at_ns > now_ns),
        )
        .order_by(table.c.id)
        .limit(ENTRIES_MAX + 1)
    )
    rows = conn.execute(query).all()
    if len(rows) > ENTRIES_MAX:
        raise RiskInputError(f"more than {ENTRIES_MAX} block entries to share: narrow the sources")
    document: dict[str, Any] = {
        "format": feed_signing.FORMAT,
        "issuer": check_partner_name(issuer),
        "sequence": now_ns // 1_000,
        "issued_at": format_time(now_ns),
        "entries": _export_entries(rows),
    }
    document["signature"] = feed_signing.sign(document, key)
    return document


def _export_entries(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """One entry per (key, value): the longest-lived of the sources' entries."""
    chosen: dict[tuple[str, str], Any] = {}
    for row in rows:
        seen = chosen.get((row.key, row.value))
        if seen is None or (
            seen.expires_at_ns is not None and (row.expires_at_ns or 1 << 63) > seen.expires_at_ns
        ):
            chosen[(row.key, row.value)] = row
    return [
        {
            "key": row.key,
            "value": row.value,
            "list": "block",
            "expires_at": None if row.expires_at_ns is None else format_time(row.expires_at_ns),
            "reason": row.reason,
        }
        for row in chosen.values()
    ]


def get_partner(conn: Connection, name: str) -> FeedPartner:
    row = conn.execute(select(risk_feed_partners).where(risk_feed_partners.c.name == name)).first()
    if row is None:
        raise RiskNotFoundError(f"no feed partner {name!r}")
    return FeedPartner(row.name, row.public_key, row.last_sequence, row.last_imported_at_ns)
