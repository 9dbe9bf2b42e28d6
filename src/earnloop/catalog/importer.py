"""Import and export of the catalog as CSV or JSON.

Import is all-or-nothing per file: every row is validated (shape, then against the database) and any
invalid row rejects the whole file with a per-row report — :class:`ImportRejectedError` listing
(row, field, message). Rows are upserted by their external ``key`` (games, milestones within a game,
merchants), so importing the same file twice changes nothing the second time.

Row numbers: CSV = the line in the file (the header is line 1); JSON = the item's position (from 1) in
its ``games`` / ``merchants`` list.

CSV for games has one row per milestone, the game's columns repeated (a game without milestones is one
row with empty ``milestone_*`` cells). JSON is ``{"games": [{…, "milestones": [{…}]}], "merchants": […]}``.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from earnloop import bounds
from earnloop.catalog import service
from earnloop.catalog.errors import CatalogError, ImportRejectedError, RowError
from earnloop.catalog.validation import GameSpec, MerchantSpec, game_spec, merchant_spec, milestone_spec

FORMATS = frozenset({"csv", "json"})
KINDS = frozenset({"games", "merchants"})
ROWS_MAX = 20_000
GAME_COLUMNS = [
    "key",
    "title",
    "platforms",
    "app_store_id",
    "play_package",
    "tracking_provider",
    "tags",
    "status",
    "currency",
    "publisher_id",
    "lock_period_days",
]
MILESTONE_FIELDS = ["key", "title", "goal", "within_days", "reward_amount", "per_user_limit", "position"]
GAME_CSV_COLUMNS = GAME_COLUMNS + [f"milestone_{f}" for f in MILESTONE_FIELDS]
MERCHANT_COLUMNS = [
    "key",
    "partner_id",
    "name",
    "category",
    "logo_url",
    "tracking_template",
    "tax_ids",
    "rates",
    "lock_period_days",
    "payout_terms",
]


@dataclass
class ImportReport:
    games_created: int = 0
    games_updated: int = 0
    milestones_created: int = 0
    milestones_updated: int = 0
    merchants_created: int = 0
    merchants_updated: int = 0
    rows: int = 0
    errors: list[dict[str, object]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def detect_format(filename: str, content: str) -> str:
    if filename.lower().endswith(".json"):
        return "json"
    if filename.lower().endswith(".csv"):
        return "csv"
    return "json" if content.lstrip().startswith(("{", "[")) else "csv"


def import_catalog(conn: Connection, content: str, *, fmt: str, kind: str | None = None) -> dict[str, Any]:
    """Validate every row, then upsert all of them — or raise :class:`ImportRejectedError`."""
    if fmt not in FORMATS:
        raise CatalogError(f"format must be one of {', '.join(sorted(FORMATS))}")
    if kind is not None and kind not in KINDS:
        raise CatalogError(f"kind must be one of {', '.join(sorted(KINDS))}")
    errors: list[RowError] = []
    if fmt == "json":
        game_rows, merchant_rows = _json_rows(content, kind, errors)
    else:
        game_rows, merchant_rows = _csv_rows(content, kind, errors)
    if len(game_rows) + len(merchant_rows) > ROWS_MAX:
        raise CatalogError(f"at most {ROWS_MAX} rows per file")
    merchant_specs = _check_merchants(conn, merchant_rows, errors)
    game_specs = _check_games(conn, game_rows, errors)
    if errors:
        raise ImportRejectedError(sorted(errors, key=lambda e: (e.row, e.field)))
    report = ImportReport(rows=len(game_rows) + len(merchant_rows))
    for m in merchant_specs:
        _, created = service.upsert_merchant_spec(conn, m)
        report.merchants_created += created
        report.merchants_updated += not created
    for g in game_specs:
        _, created, m_created, m_updated = service.upsert_game_spec(conn, g)
        report.games_created += created
        report.games_updated += not created
        report.milestones_created += m_created
        report.milestones_updated += m_updated
    return report.as_dict()


# -- parsing ------------------------------------------------------------------------------------------
Rows = list[tuple[int, dict[str, Any]]]


def _json_rows(content: str, kind: str | None, errors: list[RowError]) -> tuple[Rows, Rows]:
    try:
        document = bounds.loads(content)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"invalid JSON: {exc}") from exc
    if isinstance(document, list):
        if kind is None:
            raise CatalogError('a JSON list needs a kind (games or merchants); or send {"games": [...]}')
        document = {kind: document}
    if not isinstance(document, dict) or not set(document) & KINDS or set(document) - KINDS:
        raise CatalogError('JSON must be {"games": [...], "merchants": [...]}')
    sections: list[Rows] = []
    for name in ("games", "merchants"):
        items = document.get(name) or []
        if not isinstance(items, list) or (kind is not None and name != kind and items):
            raise CatalogError(
                f"{name}: expected a list" if kind is None else f"this import takes {kind} only"
            )
        rows: Rows = []
        for index, item in enumerate(items, start=1):
            if isinstance(item, dict):
                rows.append((index, item))
            else:
                errors.append(RowError(index, name, "must be an object"))
        sections.append(rows)
    return sections[0], sections[1]


def _csv_rows(content: str, kind: str | None, errors: list[RowError]) -> tuple[Rows, Rows]:
    reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    if not header:
        raise CatalogError("empty CSV: expected a header row")
    if kind is None:
        kind = "merchants" if "partner_id" in header else "games"
    expected = MERCHANT_COLUMNS if kind == "merchants" else GAME_CSV_COLUMNS
    unknown = [h for h in header if h not in expected]
    if unknown or "key" not in header:
        raise CatalogError(
            f"unknown column(s) {', '.join(unknown) or '(no key)'}; columns: {', '.join(expected)}"
        )
    rows: Rows = []
    for record in reader:
        line = reader.line_num
        if None in record:
            errors.append(RowError(line, "row", "more cells than columns"))
            continue
        cells = {k.strip(): (v or "").strip() for k, v in record.items() if k is not None}
        if not any(cells.values()):
            continue
        rows.append((line, cells))
    if kind == "merchants":
        return [], rows
    return _group_game_rows(rows, errors), []


def _group_game_rows(rows: Rows, errors: list[RowError]) -> Rows:
    """One CSV row per milestone → one raw game (first row's line) with its milestones."""
    grouped: dict[str, tuple[int, dict[str, Any]]] = {}
    order: list[str] = []
    for line, cells in rows:
        key = cells.get("key", "")
        game = {c: cells.get(c, "") for c in GAME_COLUMNS}
        milestone = {f: cells.get(f"milestone_{f}", "") for f in MILESTONE_FIELDS}
        if key not in grouped:
            grouped[key] = (line, {**game, "milestones": [], "_lines": []})
            order.append(key)
        else:
            first = grouped[key][1]
            for column in GAME_COLUMNS:
                if cells.get(column, "") not in ("", first[column]):
                    errors.append(
                        RowError(line, column, f"differs from line {grouped[key][0]} of game {key!r}")
                    )
        if any(milestone.values()):
            grouped[key][1]["milestones"].append(milestone)
            grouped[key][1]["_lines"].append(line)
    return [grouped[k] for k in order]


# -- validation ---------------------------------------------------------------------------------------
def _check_merchants(conn: Connection, rows: Rows, errors: list[RowError]) -> list[MerchantSpec]:
    specs: list[MerchantSpec] = []
    seen_keys: dict[str, int] = {}
    seen_partners: dict[int, int] = {}
    seen_tax: dict[str, int] = {}
    for row, raw in rows:
        spec, problems = merchant_spec(raw)
        if spec is not None:
            problems = service.merchant_problems(conn, spec)
            if spec.key in seen_keys:
                problems.append(("key", f"{spec.key!r} repeats row {seen_keys[spec.key]}"))
            seen_keys.setdefault(spec.key, row)
            if spec.partner_id in seen_partners:
                problems.append(
                    ("partner_id", f"{spec.partner_id} repeats row {seen_partners[spec.partner_id]}")
                )
            seen_partners.setdefault(spec.partner_id, row)
            for tax_id in spec.tax_ids:
                if tax_id in seen_tax:
                    problems.append(("tax_ids", f"{tax_id} repeats row {seen_tax[tax_id]}"))
                seen_tax.setdefault(tax_id, row)
        errors.extend(RowError(row, name, message) for name, message in problems)
        if spec is not None and not problems:
            specs.append(spec)
    return specs


def _check_games(conn: Connection, rows: Rows, errors: list[RowError]) -> list[GameSpec]:
    specs: list[GameSpec] = []
    seen: dict[str, int] = {}
    for row, raw in rows:
        lines: list[int] = raw.pop("_lines", [])
        if lines:  # CSV: report milestone problems on the milestone's own line
            bad_milestone = False
            for line, milestone in zip(lines, raw["milestones"], strict=True):
                _, problems = milestone_spec(milestone, "milestone_")
                errors.extend(RowError(line, name, message) for name, message in problems)
                bad_milestone |= bool(problems)
            keys = [m["key"] for m in raw["milestones"]]
            for line, key in zip(lines, keys, strict=True):
                if keys.count(key) > 1 and line != lines[keys.index(key)]:
                    errors.append(RowError(line, "milestone_key", f"duplicate milestone {key!r}"))
                    bad_milestone = True
            if bad_milestone:
                raw = {**raw, "milestones": []}
        spec, problems = game_spec(raw)
        if spec is not None:
            problems = service.game_problems(conn, spec)
            if spec.key in seen:
                problems.append(("key", f"{spec.key!r} repeats row {seen[spec.key]}"))
            seen.setdefault(spec.key, row)
        errors.extend(RowError(row, name, message) for name, message in problems)
        if spec is not None and not problems:
            specs.append(spec)
    return specs


# -- export -------------------------------------------------------------------------------------------
def _game_out(game: dict[str, Any]) -> dict[str, Any]:
    out = {c: game[c] for c in GAME_COLUMNS}
    out["milestones"] = [{f: m[f] for f in MILESTONE_FIELDS} for m in game["milestones"]]
    return out


def _merchant_out(merchant: dict[str, Any]) -> dict[str, Any]:
    return {c: merchant[c] for c in MERCHANT_COLUMNS}


def export_json(conn: Connection, kind: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {}
    if kind in (None, "games"):
        document["games"] = [_game_out(g) for g in service.list_games(conn)]
    if kind in (None, "merchants"):
        document["merchants"] = [_merchant_out(m) for m in service.list_merchants(conn)]
    return document


def export_csv(conn: Connection, kind: str) -> str:
    if kind not in KINDS:
        raise CatalogError("CSV export needs a kind: games or merchants")
    buffer = io.StringIO()
    if kind == "merchants":
        writer = csv.DictWriter(buffer, MERCHANT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for m in service.list_merchants(conn):
            row = _merchant_out(m)
            row["tax_ids"] = ";".join(m["tax_ids"])
            row["rates"] = ";".join(f"{c}:{b}" for c, b in m["rates"].items())
            writer.writerow(row)
        return buffer.getvalue()
    writer = csv.DictWriter(buffer, GAME_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for g in service.list_games(conn):
        base = {c: g[c] for c in GAME_COLUMNS}
        base["platforms"] = ",".join(g["platforms"])
        base["tags"] = ",".join(g["tags"])
        for m in g["milestones"] or [None]:
            cells = dict(base)
            if m is not None:
                cells.update({f"milestone_{f}": m[f] for f in MILESTONE_FIELDS})
            writer.writerow({k: "" if v is None else v for k, v in cells.items()})
    return buffer.getvalue()
