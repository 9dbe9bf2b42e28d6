"""Partner report import over HTTP (CSV body and multipart upload) and with ``earnloop affiliate
import-report``, on SQLite and PostgreSQL: valid rows are applied through the postback path, bad rows
are listed with their row number and reason, re-importing changes nothing, an unreadable file imports
nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select

from earnloop.affiliate import service as affiliate
from earnloop.affiliate.models import affiliate_conversions, affiliate_requests
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.wallet import service as wallet
from earnloop.wallet.cashback.models import cashback_entries
from tests.conftest import Cli
from tests.integration.affiliate.support import EVENT_TIME, World, click, count, make_world, money

HEADER = "order_id,click_id,status,order_amount,currency,category,event_time"


def report(click_id: str) -> str:
    return "\n".join(
        [
            HEADER,
            f"R-1,{click_id},pending,20000,TWD,,{EVENT_TIME}",
            f"R-2,{click_id},pending,12.50,TWD,,{EVENT_TIME}",
            f"R-3,no-such-click,pending,1000,TWD,,{EVENT_TIME}",
            f"R-1,{click_id},approved,15000,TWD,,{EVENT_TIME}",
            f"R-4,{click_id},pending,10000,TWD,books,{EVENT_TIME}",
        ]
    )


EXPECTED_ERRORS = [(2, "malformed"), (3, "unknown_click")]


def _import(api: httpx.Client, w: World, content: str) -> httpx.Response:
    return api.post(
        f"/v1/admin/affiliate/merchants/{w.merchant_id}/report",
        content=content.encode(),
        headers={"Content-Type": "text/csv"},
    )


def test_report_applies_valid_rows_lists_bad_ones_and_reimports_as_no_op(
    api: httpx.Client, world: World, db: Database
) -> None:
    content = report(click(api, world))
    first = _import(api, world, content)
    assert first.status_code == 200, first.text
    summary = first.json()
    assert (summary["rows"], summary["accepted"], summary["duplicates"], summary["rejected"]) == (5, 3, 0, 2)
    assert [(e["row"], e["reason_code"]) for e in summary["errors"]] == EXPECTED_ERRORS
    assert summary["errors"][0]["order_id"] == "R-2"
    # 15 000 after a partial refund → 750 + 750 bonus; R-4: books at 10% → 1 000 + 1 000 bonus.
    assert money(api, world) == (3_500, 0, 0)

    again = _import(api, world, content).json()
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 3, 2)
    upload = api.post(
        f"/v1/admin/affiliate/merchants/{world.merchant_id}/report",
        files={"file": ("report.csv", content.encode(), "text/csv")},
    )
    assert upload.status_code == 200, upload.text
    assert (upload.json()["accepted"], upload.json()["duplicates"]) == (0, 3)
    assert money(api, world) == (3_500, 0, 0)
    with db.uow(write=False) as conn:
        assert count(conn, affiliate_conversions) == 2
        assert count(conn, cashback_entries) == 4
        channels = set(conn.execute(select(affiliate_requests.c.channel)).scalars())
    assert channels == {"report"}


def test_unreadable_report_imports_nothing(api: httpx.Client, world: World, db: Database) -> None:
    click_id = click(api, world)
    wrong_header = _import(api, world, report(click_id).replace("order_amount", "amount"))
    assert (wrong_header.status_code, wrong_header.headers["content-type"]) == (
        422,
        "application/problem+json",
    )
    assert "header" in wrong_header.json()["detail"]
    not_utf8 = api.post(
        f"/v1/admin/affiliate/merchants/{world.merchant_id}/report",
        content=report(click_id).encode("utf-16"),
        headers={"Content-Type": "text/csv"},
    )
    assert not_utf8.status_code == 422
    unknown = api.post("/v1/admin/affiliate/merchants/999999/report", content=report(click_id).encode())
    assert unknown.status_code == 404
    with db.uow(write=False) as conn:
        assert count(conn, affiliate_requests) == 0
        assert count(conn, cashback_entries) == 0


def test_cli_import_report(
    cli: Cli, db: Database, ledger: LedgerService, clock: ManualClock, tmp_path: Path
) -> None:
    w = make_world(db, ledger, clock)
    with db.uow() as conn:
        click_id = affiliate.record_click(
            conn,
            user_id=w.user_id,
            merchant_id=w.merchant_id,
            user_agent="cli",
            client_ip="",
            now_ns=clock.now_ns(),
        )["click_id"]
    path = tmp_path / "report.csv"
    path.write_text(report(click_id), encoding="utf-8")

    done = cli("affiliate", "import-report", str(w.merchant_id), str(path))
    assert done.returncode == 2, done.stderr
    assert '"accepted": 3' in done.stdout
    assert done.stderr.splitlines() == [
        "row 2 malformed: order_amount must be an integer number of minor units ≥ 0",
        "row 3 unknown_click: no click with this id",
    ]
    with db.uow(write=False) as conn:
        # The campaign runs on the test clock, not the CLI's: the base reward only (750 + 1 000).
        assert wallet.view(conn, ledger, w.user_id, "TWD").pending == 1_750
    again = cli("affiliate", "import-report", str(w.merchant_id), str(path))
    assert '"duplicates": 3' in again.stdout
    with db.uow(write=False) as conn:
        assert count(conn, cashback_entries) == 2

    path.write_text("id,amount\n1,2\n", encoding="utf-8")
    bad = cli("affiliate", "import-report", str(w.merchant_id), str(path))
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: the header must be")
    assert len(bad.stderr.splitlines()) == 1
    missing = cli("affiliate", "import-report", "999999", str(path))
    assert (missing.returncode, missing.stderr.strip()) == (1, "error: no merchant 999999")


def test_cli_manages_secrets_without_showing_them(
    cli: Cli, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    w = make_world(db, ledger, clock)
    secret = "cli-secret-0123456789abcdef"
    added = cli("affiliate", "set-secret", str(w.merchant_id), stdin=f"{secret}\n")
    assert added.returncode == 0, added.stderr
    assert '"active": true' in added.stdout
    listed = cli("affiliate", "secrets", str(w.merchant_id))
    assert listed.returncode == 0, listed.stderr
    assert secret not in added.stdout + listed.stdout
    with db.uow(write=False) as conn:
        assert affiliate.active_secrets(conn, w.merchant_id) == [secret]
    short = cli("affiliate", "set-secret", str(w.merchant_id), "--secret", "short")
    assert (short.returncode, short.stderr.strip()) == (
        1,
        "error: secret: 16–200 characters, at most 200 bytes in UTF-8",
    )
