"""``earnloop risk list …`` (allow/block entries) and ``earnloop risk feeds …`` (partners' signed
blocklist feeds: register a partner, import, verify, export ours, make our signing key). Output is JSON,
one object per line; an error is one line on stderr (exit 1) and changes nothing."""

from __future__ import annotations

import getpass
import json
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from earnloop.cli_support import fail, out, transaction
from earnloop.config import get_settings
from earnloop.errors import DomainError
from earnloop.risk import feed_signing, feeds, lists

list_app = typer.Typer(help="Allow and block lists for entity keys.", no_args_is_help=True)
feeds_app = typer.Typer(
    help="Partners' signed blocklist feeds: import, verify, export.", no_args_is_help=True
)

_DURATION = re.compile(r"(\d{1,9})([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
FEED_FILE_BYTES_MAX = 64 * 1024 * 1024


def _actor() -> str:
    return f"cli:{getpass.getuser()}"[:120]


def parse_expires(text: str, now_ns: int) -> int:
    """``30d``, ``12h``, ``90m``, ``3600s`` from now, or an RFC 3339 timestamp."""
    match = _DURATION.fullmatch(text.strip())
    if match:
        seconds = int(match[1]) * _UNIT_S[match[2]]
        if not 0 < seconds <= lists.EXPIRES_IN_MAX_S:
            fail(f"--expires: 1s to {lists.EXPIRES_IN_MAX_S // 86_400}d")
        return now_ns + seconds * 1_000_000_000
    try:
        return feeds.parse_time("--expires", text.strip())
    except DomainError:
        fail(f"--expires {text[:40]!r}: a duration (30d, 12h, 90m, 3600s) or an RFC 3339 timestamp")


def _print(value: dict[str, Any]) -> None:
    out.print(json.dumps(value, ensure_ascii=False), markup=False, highlight=False, soft_wrap=True)


@list_app.command("add")
def add(
    list_name: Annotated[str, typer.Argument(metavar="LIST", help="allow or block")],
    key: Annotated[str, typer.Argument(help="Entity key: user, device, ip, ip24, card, carrier, payee…")],
    value: str,
    reason: Annotated[str, typer.Option(help="Why (shown with the entry).")],
    expires: Annotated[
        str | None, typer.Option(help="30d, 12h, 90m, 3600s or RFC 3339; default never.")
    ] = None,
    source: Annotated[str, typer.Option(help="manual or review")] = "manual",
) -> None:
    """Add an entry (or renew the active one with the same key, value and source)."""
    now_ns = time.time_ns()
    expires_ns = None if expires is None else parse_expires(expires, now_ns)
    if source not in lists.LOCAL_SOURCES:
        fail("--source: manual or review (feed entries come from `earnloop risk feeds import`)")
    region = get_settings().phone_default_region
    with transaction() as conn:
        entry = lists.add(
            conn,
            lists.NewEntry(list_name, key, value, reason, expires_ns),
            source=source,
            added_by=_actor(),
            phone_region=region,
            now_ns=now_ns,
        )
    _print(asdict(entry))


@list_app.command("remove")
def remove(
    list_name: Annotated[str, typer.Argument(metavar="LIST", help="allow or block")],
    key: str,
    value: str,
    source: Annotated[str, typer.Option(help="manual, review or feed:<partner>")] = "manual",
) -> None:
    """Remove the active entry: it stops matching at once (kept for history)."""
    region = get_settings().phone_default_region
    with transaction() as conn:
        entry = lists.remove(
            conn,
            list_name=list_name,
            key=key,
            value=value,
            source=source,
            removed_by=_actor(),
            phone_region=region,
        )
    _print(asdict(entry))


@list_app.command("show")
def show(
    list_name: Annotated[str, typer.Argument(metavar="LIST", help="allow or block")],
    key: Annotated[str | None, typer.Option(help="Only this entity key.")] = None,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    include_inactive: Annotated[bool, typer.Option("--all", help="Expired and removed entries too.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=lists.LIST_MAX)] = 100,
) -> None:
    """The list's entries in id order, one JSON object per line."""
    with transaction(write=False) as conn:
        found = lists.entries(
            conn, list_name=list_name, key=key, source=source, include_inactive=include_inactive, limit=limit
        )
    for entry in found:
        _print(asdict(entry))


@list_app.command("lookup")
def lookup(key: str, value: str) -> None:
    """Is this value on a list now? Prints the stored value, both memberships and the entries."""
    region = get_settings().phone_default_region
    with transaction(write=False) as conn:
        stored, found = lists.lookup(conn, key, value, phone_region=region)
    blocked = any(e.list == "block" for e in found)
    allowed = any(e.list == "allow" for e in found)
    entries = [asdict(e) for e in found]
    _print({"key": key, "value": stored, "blocklisted": blocked, "allowlisted": allowed, "entries": entries})


def _read_feed(file: str) -> bytes:
    try:
        data = sys.stdin.buffer.read(FEED_FILE_BYTES_MAX + 1) if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    if len(data) > FEED_FILE_BYTES_MAX:
        fail(f"{file}: a feed is at most {FEED_FILE_BYTES_MAX // (1024 * 1024)} MiB")
    return data


@feeds_app.command("add-partner")
def add_partner(
    name: Annotated[str, typer.Argument(help="The issuer name its feeds carry.")],
    public_key: Annotated[str, typer.Option(help="The partner's Ed25519 public key (raw 32 bytes, base64).")],
) -> None:
    """Register a partner whose signed blocklist feeds we import."""
    with transaction() as conn:
        partner = feeds.add_partner(conn, name, public_key)
    _print(asdict(partner))


@feeds_app.command("partners")
def list_partners() -> None:
    """The registered feed partners and the last feed imported from each."""
    with transaction(write=False) as conn:
        for partner in feeds.partners(conn):
            _print(asdict(partner))


@feeds_app.command("import")
def import_feed(file: Annotated[str, typer.Argument(help="The feed (JSON), or - for stdin.")]) -> None:
    """Verify a partner's feed and replace that partner's entries with it (refused, changing nothing: an
    unknown issuer, a bad signature, a feed no newer than the last one)."""
    data = _read_feed(file)
    region = get_settings().phone_default_region
    with transaction() as conn:
        result = feeds.import_feed(conn, data, phone_region=region)
    _print(asdict(result))


@feeds_app.command("verify")
def verify(file: Annotated[str, typer.Argument(help="The feed (JSON), or - for stdin.")]) -> None:
    """Check a feed's format, issuer and signature without importing it."""
    data = _read_feed(file)
    with transaction(write=False) as conn:
        document = feeds.verify_feed(conn, data)
        last = feeds.get_partner(conn, document["issuer"]).last_sequence
    newer = last is None or document["sequence"] > last
    summary = {
        "issuer": document["issuer"],
        "sequence": document["sequence"],
        "entries": len(document["entries"]),
    }
    _print({**summary, "signature": "valid", "newer_than_last_import": newer})


@feeds_app.command("export")
def export(
    include_partner_feeds: Annotated[bool, typer.Option(help="Share partners' feed entries too.")] = False,
) -> None:
    """Print our blocklist as a feed signed with EARNLOOP_RISK_FEED_SIGNING_KEY_FILE (redirect to a file)."""
    settings = get_settings()
    with transaction(write=False) as conn:
        key = feed_signing.load_key_file(settings.risk_feed_signing_key_file)
        sources: tuple[str, ...] = lists.LOCAL_SOURCES
        if include_partner_feeds:
            sources += tuple(lists.FEED_SOURCE_PREFIX + p.name for p in feeds.partners(conn))
        document = feeds.export_feed(conn, key, issuer=settings.risk_feed_issuer, sources=sources)
    typer.echo(json.dumps(document, ensure_ascii=False, indent=1))


@feeds_app.command("keygen")
def keygen() -> None:
    """Create our signing key at EARNLOOP_RISK_FEED_SIGNING_KEY_FILE (never overwritten) and print the
    public key partners register."""
    try:
        public_key = feed_signing.generate_key_file(get_settings().risk_feed_signing_key_file)
    except DomainError as exc:
        fail(str(exc))
    _print({"issuer": get_settings().risk_feed_issuer, "public_key": public_key})


@feeds_app.command("public-key")
def public_key() -> None:
    """Print the public key of our signing key (what partners register)."""
    settings = get_settings()
    try:
        key = feed_signing.load_key_file(settings.risk_feed_signing_key_file)
    except DomainError as exc:
        fail(str(exc))
    _print({"issuer": settings.risk_feed_issuer, "public_key": feed_signing.public_key_text(key)})
