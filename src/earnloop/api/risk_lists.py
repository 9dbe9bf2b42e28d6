"""``/v1/risk/lists`` and ``/v1/risk/feeds`` (admin token): allow/block list entries, and partners'
signed blocklist feeds — register a partner's public key, import a feed, export ours (ADR 0026)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from earnloop.api.deps import Admin
from earnloop.api.problems import problem_responses
from earnloop.bounds import Strict
from earnloop.risk import feed_signing, feeds, lists
from earnloop.risk.events import ENTITY_KEYS
from earnloop.risk.list_models import REASON_CHARS_MAX, VALUE_CHARS_MAX
from earnloop.wallet.schemas import from_ns

router = APIRouter(prefix="/v1/risk", tags=["risk lists"], responses=problem_responses(401, 404, 409, 422))

ListName = Annotated[Literal["allow", "block"], Path(description="allow or block")]
EntityKey = Literal["user", "device", "ip", "ip24", "card", "carrier", "payee", "partner", "offer", "phone"]
assert set(get_args(EntityKey)) == set(ENTITY_KEYS)  # the OpenAPI enum is the engine's keys
Value = Annotated[str, Query(min_length=1, max_length=VALUE_CHARS_MAX)]
LocalSource = Literal["manual", "review"]
API_ACTOR = "api:admin"


class EntryIn(Strict):
    key: EntityKey
    value: str = Field(min_length=1, max_length=VALUE_CHARS_MAX, description="Normalised on the way in.")
    reason: str = Field(min_length=1, max_length=REASON_CHARS_MAX)
    source: LocalSource = "manual"
    expires_in_s: int | None = Field(
        default=None, ge=1, le=lists.EXPIRES_IN_MAX_S, description="Null: the entry never expires."
    )


class EntryOut(BaseModel):
    entry_id: int
    list: Literal["allow", "block"]
    key: str
    value: str
    source: str
    reason: str
    added_by: str
    created_at: datetime
    expires_at: datetime | None
    removed_at: datetime | None

    @classmethod
    def of(cls, e: lists.ListEntry) -> EntryOut:
        return cls(
            entry_id=e.id,
            list=e.list,
            key=e.key,
            value=e.value,
            source=e.source,
            reason=e.reason,
            added_by=e.added_by,
            created_at=from_ns(e.created_at_ns),
            expires_at=None if e.expires_at_ns is None else from_ns(e.expires_at_ns),
            removed_at=None if e.removed_at_ns is None else from_ns(e.removed_at_ns),
        )


class LookupOut(BaseModel):
    key: str
    value: str = Field(description="The value as stored (normalised).")
    blocklisted: bool
    allowlisted: bool
    entries: list[EntryOut] = Field(description="The active entries, on both lists.")


@router.post("/lists/{list_name}/entries", response_model=EntryOut, status_code=201)
def add_entry(list_name: ListName, body: EntryIn, ctx: Admin) -> EntryOut:
    """Add an entry, or renew the active one with the same key, value and source (reason and expiry)."""
    now_ns = time.time_ns()
    expires = None if body.expires_in_s is None else now_ns + body.expires_in_s * 1_000_000_000
    entry = lists.NewEntry(list_name, body.key, body.value, body.reason, expires)
    with ctx.db.uow() as conn:
        added = lists.add(
            conn,
            entry,
            source=body.source,
            added_by=API_ACTOR,
            phone_region=ctx.settings.phone_default_region,
            now_ns=now_ns,
        )
    return EntryOut.of(added)


@router.get("/lists/{list_name}/entries", response_model=list[EntryOut])
def list_entries(
    list_name: ListName,
    ctx: Admin,
    key: EntityKey | None = None,
    source: Annotated[str | None, Query(max_length=80)] = None,
    include_inactive: bool = False,
    after_id: Annotated[int, Query(ge=0, le=(1 << 63) - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=lists.LIST_MAX)] = 100,
) -> list[EntryOut]:
    """A page of the list's entries in id order (pass the last ``entry_id`` as ``after_id``)."""
    with ctx.db.uow(write=False) as conn:
        found = lists.entries(
            conn,
            list_name=list_name,
            key=key,
            source=source,
            include_inactive=include_inactive,
            after_id=after_id,
            limit=limit,
        )
    return [EntryOut.of(e) for e in found]


@router.delete("/lists/{list_name}/entries", response_model=EntryOut)
def remove_entry(
    list_name: ListName,
    ctx: Admin,
    key: EntityKey,
    value: Value,
    source: Annotated[str, Query(max_length=80)] = "manual",
) -> EntryOut:
    """Remove the active entry for this key, value and source: it stops matching at once."""
    with ctx.db.uow() as conn:
        removed = lists.remove(
            conn,
            list_name=list_name,
            key=key,
            value=value,
            source=source,
            removed_by=API_ACTOR,
            phone_region=ctx.settings.phone_default_region,
        )
    return EntryOut.of(removed)


@router.get("/lists/lookup", response_model=LookupOut)
def lookup_value(ctx: Admin, key: EntityKey, value: Value) -> LookupOut:
    """Is this value on a list now? Expired and removed entries do not count."""
    with ctx.db.uow(write=False) as conn:
        stored, found = lists.lookup(conn, key, value, phone_region=ctx.settings.phone_default_region)
    return LookupOut(
        key=key,
        value=stored,
        blocklisted=any(e.list == "block" for e in found),
        allowlisted=any(e.list == "allow" for e in found),
        entries=[EntryOut.of(e) for e in found],
    )


# -- partner feeds -------------------------------------------------------------------------------------
class FeedPartnerIn(Strict):
    name: str = Field(min_length=1, max_length=64, description="The issuer name its feeds carry.")
    public_key: str = Field(min_length=1, max_length=64, description="Raw 32-byte Ed25519 key, base64.")


class FeedPartnerOut(BaseModel):
    name: str
    public_key: str
    last_sequence: int | None
    last_imported_at: datetime | None

    @classmethod
    def of(cls, p: feeds.FeedPartner) -> FeedPartnerOut:
        last = None if p.last_imported_at_ns is None else from_ns(p.last_imported_at_ns)
        return cls(name=p.name, public_key=p.public_key, last_sequence=p.last_sequence, last_imported_at=last)


class FeedEntry(Strict):
    key: str = Field(max_length=16)
    value: str = Field(max_length=VALUE_CHARS_MAX)
    list: str = Field(max_length=8, description="block (partner feeds share block entries only)")
    expires_at: str | None = Field(max_length=40, description="RFC 3339, or null: never expires.")
    reason: str = Field(max_length=REASON_CHARS_MAX)


class FeedDocument(Strict):
    """A signed feed; the signature covers the canonical encoding of every other member (ADR 0026)."""

    format: str = Field(max_length=40, description=f"{feed_signing.FORMAT!r}")
    issuer: str = Field(max_length=64)
    sequence: int = Field(ge=1, description="Larger in each newer feed of the issuer.")
    issued_at: str = Field(max_length=40, description="RFC 3339")
    entries: list[FeedEntry] = Field(max_length=feeds.ENTRIES_MAX)
    signature: str = Field(max_length=128, description="Ed25519 signature, base64url without padding.")


class ImportOut(BaseModel):
    issuer: str
    sequence: int
    imported: int = Field(description="The partner's entries active now.")
    replaced: int = Field(description="The partner's earlier entries this feed replaced.")
    skipped_expired: int = Field(description="Entries already expired, not imported.")
    already_imported: bool = Field(description="The same signed feed was imported before: nothing changed.")


@router.post("/feeds/partners", response_model=FeedPartnerOut, status_code=201)
def add_feed_partner(body: FeedPartnerIn, ctx: Admin) -> FeedPartnerOut:
    """Register a partner whose signed blocklist feeds we import, with its public key."""
    with ctx.db.uow() as conn:
        return FeedPartnerOut.of(feeds.add_partner(conn, body.name, body.public_key))


@router.get("/feeds/partners", response_model=list[FeedPartnerOut])
def list_feed_partners(ctx: Admin) -> list[FeedPartnerOut]:
    with ctx.db.uow(write=False) as conn:
        return [FeedPartnerOut.of(p) for p in feeds.partners(conn)]


@router.post("/feeds/import", response_model=ImportOut, responses=problem_responses(409, 422))
def import_feed(body: FeedDocument, ctx: Admin) -> ImportOut:
    """Verify a partner's signed feed and replace that partner's entries with it. Refused, changing
    nothing: an unknown issuer, a signature that does not verify (a changed byte), an older sequence."""
    document: dict[str, Any] = body.model_dump()
    with ctx.db.uow() as conn:
        result = feeds.import_feed(conn, document, phone_region=ctx.settings.phone_default_region)
    return ImportOut(**{name: getattr(result, name) for name in ImportOut.model_fields})


@router.get("/feeds/export", response_model=FeedDocument, responses=problem_responses(503))
def export_feed(ctx: Admin, include_partner_feeds: bool = False) -> dict[str, Any]:
    """Our blocklist as a signed feed: the entries we set (manual, review), and with
    ``include_partner_feeds`` those partners' feeds gave us too."""
    key = feed_signing.load_key_file(ctx.settings.risk_feed_signing_key_file)
    with ctx.db.uow(write=False) as conn:
        sources: tuple[str, ...] = lists.LOCAL_SOURCES
        if include_partner_feeds:
            sources += tuple(lists.FEED_SOURCE_PREFIX + p.name for p in feeds.partners(conn))
        return feeds.export_feed(conn, key, issuer=ctx.settings.risk_feed_issuer, sources=sources)
