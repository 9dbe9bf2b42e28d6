"""``earnloop risk phone …``: look up a number's reputation, and record a report on behalf of a user or
a partner (operators entering reports received elsewhere). Output is one JSON object; an invalid number
is one line on stderr (exit 1)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from earnloop.auth import service as auth
from earnloop.cli_support import fail, out, transaction
from earnloop.config import get_settings
from earnloop.risk import phones

phone_app = typer.Typer(help="Phone-number reputation.", no_args_is_help=True)

Region = Annotated[
    str | None, typer.Option(help="Region of a number without +country code (default: setting).")
]


def _show(found: phones.Reputation) -> None:
    shown = {
        "number": found.number,
        "risk_level": found.level,
        "score": found.score,
        "flagged": found.flagged,
        "categories": [{"category": c, "reports": n} for c, n in found.categories],
        "report_count": found.report_count,
    }
    out.print(json.dumps(shown), markup=False, highlight=False, soft_wrap=True)


@phone_app.command("lookup")
def lookup(number: str, region: Region = None) -> None:
    """A number's risk level, score, categories and report count."""
    with transaction(write=False) as conn:
        found = phones.lookup(conn, number, region=(region or get_settings().phone_default_region).upper())
    _show(found)


@phone_app.command("report")
def report(
    number: str,
    category: Annotated[str, typer.Option(help=", ".join(phones.CATEGORIES))],
    user_id: Annotated[int | None, typer.Option(min=1, help="Reported by this user.")] = None,
    partner_id: Annotated[int | None, typer.Option(min=1, help="Reported by this partner.")] = None,
    note: str = "",
    region: Region = None,
) -> None:
    """Record a report by a user or a partner (each counts once per number); prints the reputation."""
    if (user_id is None) == (partner_id is None):
        fail("give one of --user-id and --partner-id")
    kind: phones.ReporterKind = "user" if user_id is not None else "partner"
    reporter = user_id if user_id is not None else partner_id
    assert reporter is not None
    with transaction() as conn:
        known = auth.user_exists(conn, reporter) if kind == "user" else auth.get_partner(conn, reporter)
        if not known:
            fail(f"no {kind} {reporter}")
        e164 = phones.report(
            conn,
            number,
            category,
            reporter_kind=kind,
            reporter_id=reporter,
            note=note,
            region=(region or get_settings().phone_default_region).upper(),
        )
        found = phones.reputation_of(conn, e164)
    _show(found)
