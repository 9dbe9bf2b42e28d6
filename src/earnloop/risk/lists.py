"""Allow and block lists for any entity key (issue 15, ADR 0026): add, remove, list and look up entries,
and :class:`ListFeatures`, the list membership every screened event gets as rule fields.

An entry has a normalised value (:mod:`earnloop.risk.normalise`), an optional expiry, a source
(``manual``, ``review``, ``feed:<partner>``), a reason, who added it and when. Expired and removed
entries never match. Nothing is deleted: removal stamps the entry, so membership can be asked as of
any moment (what a backtest replays).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, and_, bindparam, or_, select, update

from earnloop.db import driver
from earnloop.db.upsert import dialect_insert
from earnloop.risk.events import ENTITY_KEYS, RiskEvent
from earnloop.risk.list_errors import RiskInputError, RiskNotFoundError
from earnloop.risk.list_models import ACTOR_CHARS_MAX, REASON_CHARS_MAX, risk_list_entries
from earnloop.risk.normalise import DEFAULT_PHONE_REGION, normalise

ListName = Literal["allow", "block"]
LIST_NAMES: tuple[ListName, ...] = ("allow", "block")
LOCAL_SOURCES = ("manual", "review")  # the sources an operator sets; feeds set ``feed:<partner>``
FEED_SOURCE_PREFIX = "feed:"
SOURCE_PATTERN = re.compile(r"(manual|review|feed:[a-z0-9][a-z0-9_.-]{0,63})")
LIST_MAX = 500
EXPIRES_IN_MAX_S = 10 * 365 * 86_400


@dataclass(frozen=True, slots=True)
class ListEntry:
    id: int
    list: ListName
    key: str
    value: str
    source: str
    reason: str
    added_by: str
    created_at_ns: int
    expires_at_ns: int | None
    removed_at_ns: int | None

    def active_at(self, at_ns: int) -> bool:
        return (
            self.created_at_ns <= at_ns
            and (self.removed_at_ns is None or self.removed_at_ns > at_ns)
            and (self.expires_at_ns is None or self.expires_at_ns > at_ns)
        )


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry to add, before normalisation (``expires_at_ns`` absolute, or ``None``: never)."""

    list: str
    key: str
    value: str
    reason: str
    expires_at_ns: int | None = None


def check_list(name: str) -> ListName:
    if name == "allow":
        return "allow"
    if name == "block":
        return "block"
    raise RiskInputError(f"unknown list {name!r} (allow or block)")


def check_source(source: str) -> str:
    if not SOURCE_PATTERN.fullmatch(source):
        raise RiskInputError(f"source {source[:90]!r}: manual, review or feed:<partner>")
    return source


def _check_text(what: str, text: str, chars_max: int) -> str:
    text = text.strip()
    if not text or len(text) > chars_max or not text.isprintable():
        raise RiskInputError(f"{what}: 1 to {chars_max} printable characters")
    return text


def entry_values(
    entry: NewEntry, *, source: str, added_by: str, now_ns: int, phone_region: str = DEFAULT_PHONE_REGION
) -> dict[str, Any]:
    """The row of a checked, normalised entry (raises :class:`RiskInputError` on bad input)."""
    if entry.expires_at_ns is not None and entry.expires_at_ns <= now_ns:
        raise RiskInputError("expires: the expiry is in the past")
    return {
        "list": check_list(entry.list),
        "key": entry.key,
        "value": normalise(entry.key, entry.value, phone_region=phone_region),
        "source": check_source(source),
        "reason": _check_text("reason", entry.reason, REASON_CHARS_MAX),
        "added_by": _check_text("added_by", added_by, ACTOR_CHARS_MAX),
        "created_at_ns": now_ns,
        "expires_at_ns": entry.expires_at_ns,
    }


def add(
    conn: Connection,
    entry: NewEntry,
    *,
    source: str = "manual",
    added_by: str,
    phone_region: str = DEFAULT_PHONE_REGION,
    now_ns: int | None = None,
) -> ListEntry:
    """Add an entry, or update the reason, expiry and author of the active entry with the same list, key,
    value and source (adding twice is one entry: a retried add is harmless)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    values = entry_values(entry, source=source, added_by=added_by, now_ns=now_ns, phone_region=phone_region)
    statement = dialect_insert(conn, risk_list_entries).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["list", "key", "value", "source"],
        index_where=risk_list_entries.c.removed_at_ns.is_(None),
        set_={name: statement.excluded[name] for name in ("reason", "added_by", "expires_at_ns")},
    ).returning(*risk_list_entries.c)
    return _entry(conn.execute(statement).one())


def remove(
    conn: Connection,
    *,
    list_name: str,
    key: str,
    value: str,
    source: str = "manual",
    removed_by: str,
    phone_region: str = DEFAULT_PHONE_REGION,
    now_ns: int | None = None,
) -> ListEntry:
    """Remove the active entry (it stops matching at once; the row stays for history)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    stored = normalise(key, value, phone_region=phone_region)
    table = risk_list_entries
    statement = (
        update(table)
        .where(
            table.c.list == check_list(list_name),
            table.c.key == key,
            table.c.value == stored,
            table.c.source == check_source(source),
            table.c.removed_at_ns.is_(None),
        )
        .values(removed_at_ns=now_ns, removed_by=_check_text("removed_by", removed_by, ACTOR_CHARS_MAX))
        .returning(*table.c)
    )
    row = conn.execute(statement).first()
    if row is None:
        raise RiskNotFoundError(f"no active {list_name} entry for {key} {stored!r} from {source}")
    return _entry(row)


def entries(
    conn: Connection,
    *,
    list_name: str,
    key: str | None = None,
    source: str | None = None,
    include_inactive: bool = False,
    after_id: int = 0,
    limit: int = 100,
    now_ns: int | None = None,
) -> list[ListEntry]:
    """A page of a list's entries in id order (active ones unless ``include_inactive``)."""
    if not 1 <= limit <= LIST_MAX:
        raise RiskInputError(f"limit: 1 to {LIST_MAX}")
    table = risk_list_entries
    query = select(table).where(table.c.list == check_list(list_name), table.c.id > after_id)
    if key is not None:
        query = query.where(table.c.key == _check_key(key))
    if source is not None:
        query = query.where(table.c.source == check_source(source))
    if not include_inactive:
        query = query.where(_active(time.time_ns() if now_ns is None else now_ns))
    return [_entry(row) for row in conn.execute(query.order_by(table.c.id).limit(limit))]


def lookup(
    conn: Connection,
    key: str,
    value: str,
    *,
    phone_region: str = DEFAULT_PHONE_REGION,
    at_ns: int | None = None,
) -> tuple[str, list[ListEntry]]:
    """The normalised value and its entries active at ``at_ns`` (now by default), on both lists."""
    stored = normalise(key, value, phone_region=phone_region)
    at_ns = time.time_ns() if at_ns is None else at_ns
    table = risk_list_entries
    query = select(table).where(table.c.key == key, table.c.value == stored, _active(at_ns))
    return stored, [_entry(row) for row in conn.execute(query.order_by(table.c.id))]


def _active(at_ns: Any) -> Any:
    table = risk_list_entries
    return and_(
        table.c.created_at_ns <= at_ns,
        or_(table.c.removed_at_ns.is_(None), table.c.removed_at_ns > at_ns),
        or_(table.c.expires_at_ns.is_(None), table.c.expires_at_ns > at_ns),
    )


def _memberships_of(count: int) -> Any:
    """The membership query of ``count`` (key, value) pairs, bound as ``k<i>``/``v<i>`` and ``at_ns``."""
    table = risk_list_entries
    wanted = or_(
        *(and_(table.c.key == bindparam(f"k{i}"), table.c.value == bindparam(f"v{i}")) for i in range(count))
    )
    return select(table.c.list, table.c.key).where(wanted, _active(bindparam("at_ns"))).distinct()


# Built once per number of keys and run on the driver: every screened event asks (ADR 0011).
_MEMBERSHIPS = {count: _memberships_of(count) for count in range(1, len(ENTITY_KEYS) + 1)}


def memberships(conn: Connection, keys: Mapping[str, str], at_ns: int) -> set[tuple[str, str]]:
    """``(list, key)`` for each of ``keys`` (key → stored value) on a list at ``at_ns``: one query."""
    if not keys:
        return set()
    params: dict[str, Any] = {"at_ns": at_ns}
    for i, (key, value) in enumerate(keys.items()):
        params[f"k{i}"], params[f"v{i}"] = key, value
    return {(row.list, row.key) for row in driver.rows(conn, _MEMBERSHIPS[len(keys)], params)}


def _check_key(key: str) -> str:
    if key not in ENTITY_KEYS:
        raise RiskInputError(f"unknown entity key {key!r} (known: {', '.join(ENTITY_KEYS)})")
    return key


def _entry(row: Any) -> ListEntry:
    return ListEntry(
        id=int(row.id),
        list=check_list(row.list),
        key=row.key,
        value=row.value,
        source=row.source,
        reason=row.reason,
        added_by=row.added_by,
        created_at_ns=int(row.created_at_ns),
        expires_at_ns=None if row.expires_at_ns is None else int(row.expires_at_ns),
        removed_at_ns=None if row.removed_at_ns is None else int(row.removed_at_ns),
    )


class ListFeatures:
    """List membership as rule fields: ``blocklisted_<key>`` and ``allowlisted_<key>`` (bool) for every
    entity key. Reads only the keys the event has, in one query, as of the event's time; a key whose
    value does not normalise is on no list."""

    fields: Mapping[str, type] = {
        f"{prefix}_{key}": bool for key in ENTITY_KEYS for prefix in ("blocklisted", "allowlisted")
    }

    def __init__(self, phone_region: str = DEFAULT_PHONE_REGION) -> None:
        self.phone_region = phone_region

    def read(self, conn: Connection, event: RiskEvent) -> dict[str, Any]:
        values = dict.fromkeys(self.fields, False)
        keys: dict[str, str] = {}
        for key, raw in event.keys.items():
            try:
                keys[key] = normalise(key, raw, phone_region=self.phone_region)
            except RiskInputError:
                continue
        for list_name, listed_key in memberships(conn, keys, event.at_ns):
            values[f"{list_name}listed_{listed_key}"] = True
        return values
