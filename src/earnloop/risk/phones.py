"""Phone-number reputation (issue 15, ADR 0026) — the seed's phishing-call blocking: users and partners
report numbers, each reporter weighted by trust, and a lookup says how risky a number is. Also
:class:`PhoneFeatures`, the reputation of an event's ``phone`` key as rule fields.

Numbers are stored in E.164 (:func:`earnloop.risk.normalise.to_e164`). A reporter counts once per number
(reporting again changes the category, not the score). Trust: a partner weighs :data:`PARTNER_WEIGHT`; a
user weighs by account age (:data:`USER_AGE_WEIGHTS`), cut down when most of its reports are of numbers
nobody else reported (after :data:`NOISY_AFTER_REPORTS` reports). The score is the sum of the weights,
capped at :data:`SCORE_MAX`; a number is flagged at :data:`FLAG_SCORE`. Everything is computed in the
request: a lookup right after a report sees it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, and_, func, select, update

from earnloop.auth import service as auth
from earnloop.db.upsert import dialect_insert
from earnloop.risk.events import RiskEvent
from earnloop.risk.list_errors import RiskInputError
from earnloop.risk.list_models import REASON_CHARS_MAX
from earnloop.risk.normalise import DEFAULT_PHONE_REGION, to_e164
from earnloop.risk.phone_models import phone_numbers, phone_reporters, phone_reports

ReporterKind = Literal["user", "partner"]
Level = Literal["none", "low", "medium", "high"]
# The fixed set of report categories.
CATEGORIES: tuple[str, ...] = ("scam", "phishing", "fraud", "spam", "telemarketing", "robocall")
PARTNER_WEIGHT = 60
# (account younger than this many seconds, weight); older accounts weigh USER_WEIGHT_MAX
USER_AGE_WEIGHTS: tuple[tuple[int, int], ...] = ((86_400, 5), (30 * 86_400, 10), (180 * 86_400, 20))
USER_WEIGHT_MAX = 30
NOISY_AFTER_REPORTS = 5
NOISY_FLOOR_DIVISOR = 5  # a noisy reporter keeps at least a fifth of its weight
SCORE_MAX = 100
FLAG_SCORE = 60
MEDIUM_SCORE = 30
REPORTS_READ_MAX = 500  # the most recent reports of a number that are weighed (the score caps long before)


@dataclass(frozen=True, slots=True)
class Reputation:
    number: str
    score: int
    level: Level
    flagged: bool
    categories: tuple[tuple[str, int], ...]  # (category, reports), most reported first
    report_count: int


def check_category(category: str) -> str:
    if category not in CATEGORIES:
        raise RiskInputError(f"category {category[:40]!r}: one of {', '.join(CATEGORIES)}")
    return category


def report(
    conn: Connection,
    number: str,
    category: str,
    *,
    reporter_kind: ReporterKind,
    reporter_id: int,
    note: str = "",
    region: str = DEFAULT_PHONE_REGION,
    now_ns: int | None = None,
) -> str:
    """Record a report (or change the reporter's earlier report of the same number); returns the E.164
    number. Idempotent per (number, reporter): a retried report changes nothing more."""
    e164 = to_e164(number, region)
    now_ns = time.time_ns() if now_ns is None else now_ns
    if len(note) > REASON_CHARS_MAX or not (note == "" or note.isprintable()):
        raise RiskInputError(f"note: at most {REASON_CHARS_MAX} printable characters")
    values = {
        "number": e164,
        "reporter_kind": reporter_kind,
        "reporter_id": reporter_id,
        "category": check_category(category),
        "note": note.strip(),
        "created_at_ns": now_ns,
        "updated_at_ns": now_ns,
    }
    claim = dialect_insert(conn, phone_reports).values(**values).on_conflict_do_nothing()
    if conn.execute(claim.returning(phone_reports.c.id)).first() is None:
        _update_report(conn, values)
    else:
        _count_new_report(conn, e164, reporter_kind, reporter_id, now_ns)
    return e164


def _update_report(conn: Connection, values: Mapping[str, Any]) -> None:
    t = phone_reports
    conn.execute(
        update(t)
        .where(
            t.c.number == values["number"],
            t.c.reporter_kind == values["reporter_kind"],
            t.c.reporter_id == values["reporter_id"],
        )
        .values(category=values["category"], note=values["note"], updated_at_ns=values["updated_at_ns"])
    )


def _count_new_report(conn: Connection, number: str, kind: str, reporter_id: int, now_ns: int) -> None:
    """Atomic increments: the number's distinct reporters (the upsert serialises reporters of one
    number), this reporter's reports, and — when a second reporter arrives — the first one's
    corroborated reports."""
    upsert = dialect_insert(conn, phone_numbers).values(
        number=number, reporters=1, first_reported_at_ns=now_ns
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=["number"], set_={"reporters": phone_numbers.c.reporters + 1}
    ).returning(phone_numbers.c.reporters)
    reporters = int(conn.execute(upsert).scalar_one())
    # (kind, id) → (reports, corroborated) to add
    bumps = {(kind, reporter_id): (1, 1 if reporters > 1 else 0)}
    if reporters == 2:
        t = phone_reports
        first = conn.execute(
            select(t.c.reporter_kind, t.c.reporter_id).where(
                t.c.number == number, ~and_(t.c.reporter_kind == kind, t.c.reporter_id == reporter_id)
            )
        ).first()
        if first is not None:
            bumps[(first.reporter_kind, int(first.reporter_id))] = (0, 1)
    for (bump_kind, bump_id), (reports, corroborated) in sorted(bumps.items()):  # key order: no deadlock
        _bump_reporter(conn, bump_kind, bump_id, reports=reports, corroborated=corroborated)


def _bump_reporter(conn: Connection, kind: str, reporter_id: int, *, reports: int, corroborated: int) -> None:
    t = phone_reporters
    upsert = dialect_insert(conn, t).values(
        reporter_kind=kind, reporter_id=reporter_id, reports=reports, corroborated=corroborated
    )
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["reporter_kind", "reporter_id"],
            set_={"reports": t.c.reports + reports, "corroborated": t.c.corroborated + corroborated},
        )
    )


def reporter_weight(kind: str, *, account_age_s: int, reports: int, corroborated: int) -> int:
    """A reporter's weight: partners :data:`PARTNER_WEIGHT`; users by account age, cut to the share of
    their reports others corroborated (at least a fifth) once they made :data:`NOISY_AFTER_REPORTS`."""
    if kind == "partner":
        return PARTNER_WEIGHT
    weight = next((w for age_s, w in USER_AGE_WEIGHTS if account_age_s < age_s), USER_WEIGHT_MAX)
    if reports >= NOISY_AFTER_REPORTS:
        kept = max(corroborated, reports // NOISY_FLOOR_DIVISOR)
        weight = weight * min(kept, reports) // reports
    return weight


def level_of(score: int) -> Level:
    if score >= FLAG_SCORE:
        return "high"
    if score >= MEDIUM_SCORE:
        return "medium"
    return "low" if score > 0 else "none"


def lookup(
    conn: Connection, number: str, *, region: str = DEFAULT_PHONE_REGION, at_ns: int | None = None
) -> Reputation:
    """The reputation of ``number`` from the reports made up to ``at_ns`` (now by default)."""
    return reputation_of(conn, to_e164(number, region), at_ns=at_ns)


def reputation_of(conn: Connection, e164: str, *, at_ns: int | None = None) -> Reputation:
    """:func:`lookup` of a number already in E.164."""
    at_ns = time.time_ns() if at_ns is None else at_ns
    r, s = phone_reports, phone_reporters
    joined = r.outerjoin(s, and_(s.c.reporter_kind == r.c.reporter_kind, s.c.reporter_id == r.c.reporter_id))
    mine = and_(r.c.number == e164, r.c.created_at_ns <= at_ns)
    rows = conn.execute(
        select(r.c.reporter_kind, r.c.reporter_id, r.c.category, s.c.reports, s.c.corroborated)
        .select_from(joined)
        .where(mine)
        .order_by(r.c.id.desc())
        .limit(REPORTS_READ_MAX)
    ).all()
    count = len(rows)
    if count == REPORTS_READ_MAX:
        count = int(conn.execute(select(func.count()).select_from(r).where(mine)).scalar_one())
    created = auth.users_created_at_ns(conn, (int(x.reporter_id) for x in rows if x.reporter_kind == "user"))
    score = 0
    for row in rows:
        age_s = max(0, at_ns - created.get(int(row.reporter_id), at_ns)) // 1_000_000_000
        score += reporter_weight(
            row.reporter_kind,
            account_age_s=age_s,
            reports=row.reports or 1,
            corroborated=row.corroborated or 0,
        )
    score = min(score, SCORE_MAX)
    categories = tuple(Counter(row.category for row in rows).most_common())
    return Reputation(e164, score, level_of(score), score >= FLAG_SCORE, categories, count)


class PhoneFeatures:
    """The reputation of the event's ``phone`` key as rule fields: ``phone_risk_score`` (int, 0–100) and
    ``phone_flagged`` (bool); zero values when the event has no phone or one that does not normalise."""

    fields: Mapping[str, type] = {"phone_risk_score": int, "phone_flagged": bool}

    def __init__(self, region: str = DEFAULT_PHONE_REGION) -> None:
        self.region = region

    def read(self, conn: Connection, event: RiskEvent) -> dict[str, Any]:
        raw = event.keys.get("phone")
        if raw is None:
            return {"phone_risk_score": 0, "phone_flagged": False}
        try:
            e164 = to_e164(raw, self.region)
        except RiskInputError:
            return {"phone_risk_score": 0, "phone_flagged": False}
        found = reputation_of(conn, e164, at_ns=event.at_ns)
        return {"phone_risk_score": found.score, "phone_flagged": found.flagged}
