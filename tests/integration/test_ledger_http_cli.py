"""The ledger through its two front doors: the HTTP API (a real uvicorn server, both databases) and the
``earnloop`` command run as a real subprocess (both databases; ``db upgrade`` on a fresh SQLite file)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx

from earnloop.db.engine import Database, make_database
from earnloop.db.migrate import schema_state
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import Account, Transfer
from tests.conftest import Cli, DbTarget

CREATED_CODE = 0xFFFFFFFF


def account(id_: int, *, flags: int = 0, ledger: int = 1) -> dict[str, Any]:
    return {"id": str(id_), "ledger": ledger, "code": 1, "flags": flags}


def transfer(id_: int, dr: int, cr: int, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(id_),
        "debit_account_id": str(dr),
        "credit_account_id": str(cr),
        "amount": str(amount),
        "ledger": 1,
        "code": 1,
        **extra,
    }


def create(api: httpx.Client, what: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = api.post(f"/v1/ledger/{what}", json={what: items})
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def ids_of(items: list[dict[str, Any]]) -> list[str]:
    return [i["id"] for i in items]


# -- HTTP -------------------------------------------------------------------------------------------
def test_http_create_lookup_balance_and_page_transfers(api: httpx.Client) -> None:
    results = create(api, "accounts", [account(1), account(2, flags=8), account(3)])
    assert [(r["index"], r["status"], r["code"]) for r in results] == [
        (i, "created", CREATED_CODE) for i in range(3)
    ]
    stamps = [int(r["timestamp"]) for r in results]
    assert stamps == sorted(set(stamps))
    again = create(api, "accounts", [account(1), account(4, ledger=0)])
    assert [(r["status"], r["code"]) for r in again] == [("exists", 21), ("ledger_must_not_be_zero", 13)]
    assert again[0]["timestamp"] == results[0]["timestamp"]

    # Seven transfers touch account 1 (as debit or credit), one does not.
    batch = [
        transfer(10, 1, 2, 100),
        transfer(11, 2, 1, 5),
        transfer(12, 1, 3, 7),
        transfer(13, 2, 3, 1),
        transfer(14, 1, 2, 20, flags=2, timeout=3600),
        transfer(15, 3, 1, 2),
        transfer(16, 1, 2, 1),
        transfer(17, 0, 0, 2**128 - 1, pending_id="14", flags=4),  # post the whole pending amount
    ]
    assert {r["status"] for r in create(api, "transfers", batch)} == {"created"}

    accounts = api.get("/v1/ledger/accounts", params={"ids": "3,99,1,1"}).json()
    assert ids_of(accounts) == ["3", "1", "1"]
    assert (accounts[1]["debits_posted"], accounts[1]["credits_posted"]) == ("128", "7")
    transfers = api.get("/v1/ledger/transfers", params={"ids": "17, 98,10"}).json()
    assert ids_of(transfers) == ["17", "10"]
    post = transfers[0]
    assert (post["amount"], post["pending_id"], post["debit_account_id"], post["flags"]) == (
        "20",
        "14",
        "1",
        4,
    )
    assert api.get("/v1/ledger/transfers", params={"ids": "98,99"}).json() == []

    balance = api.get("/v1/ledger/accounts/1/balance").json()
    assert balance == {
        "account_id": "1",
        "ledger": 1,
        "debits_pending": "0",
        "debits_posted": "128",
        "credits_pending": "0",
        "credits_posted": "7",
        "net_credit": -121,
        "available_credit": -121,
        "as_of": None,
    }

    # Page through account 1's transfers, three at a time, with timestamp_min = last seen + 1.
    seen: list[str] = []
    timestamp_min = 0
    while True:
        page = api.get(
            "/v1/ledger/accounts/1/transfers", params={"limit": 3, "timestamp_min": timestamp_min}
        ).json()
        assert len(page) <= 3
        if not page:
            break
        seen += ids_of(page)
        timestamp_min = int(page[-1]["timestamp"]) + 1
    assert seen == ["10", "11", "12", "14", "15", "16", "17"]
    newest = api.get("/v1/ledger/accounts/1/transfers", params={"limit": 2, "reversed": "true"}).json()
    assert ids_of(newest) == ["17", "16"]
    first_two = api.get("/v1/ledger/accounts/1/transfers").json()[:2]
    bounded = api.get("/v1/ledger/accounts/1/transfers", params={"timestamp_max": first_two[1]["timestamp"]})
    assert ids_of(bounded.json()) == ["10", "11"]
    assert api.get("/v1/ledger/accounts/99/transfers").json() == []


def test_http_balance_as_of_and_balance_history(api: httpx.Client, clock: ManualClock) -> None:
    created = create(api, "accounts", [account(1), account(2, flags=8)])
    opened = int(created[1]["timestamp"])
    stamps = []
    for item in (transfer(10, 1, 2, 10), transfer(11, 1, 2, 20), transfer(12, 2, 1, 5, flags=2)):
        clock.advance(seconds=1)
        (result,) = create(api, "transfers", [item])
        assert result["status"] == "created"
        stamps.append(int(result["timestamp"]))

    def as_of(timestamp: int, account_id: int = 2) -> httpx.Response:
        return api.get(f"/v1/ledger/accounts/{account_id}/balance", params={"as_of": timestamp})

    def sides(body: dict[str, Any]) -> tuple[str, str, str, str]:
        return (
            body["debits_pending"],
            body["debits_posted"],
            body["credits_pending"],
            body["credits_posted"],
        )

    at_open = as_of(opened).json()
    assert (sides(at_open), at_open["as_of"]) == (("0", "0", "0", "0"), str(opened))
    assert sides(as_of(stamps[0]).json()) == ("0", "0", "0", "10")
    assert sides(as_of(stamps[1] - 1).json()) == ("0", "0", "0", "10")
    latest = as_of(stamps[2]).json()
    assert sides(latest) == ("5", "0", "0", "30")
    assert (latest["net_credit"], latest["available_credit"]) == (30, 25)
    assert sides(as_of(stamps[2] + 10**12).json()) == sides(api.get("/v1/ledger/accounts/2/balance").json())
    for response in (as_of(opened - 1), as_of(stamps[2], account_id=1)):  # before creation / no history flag
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")

    history = api.get("/v1/ledger/accounts/2/balances").json()
    assert [int(h["timestamp"]) for h in history] == stamps
    assert [(h["debits_pending"], h["credits_posted"]) for h in history] == [
        ("0", "10"),
        ("0", "30"),
        ("5", "30"),
    ]
    reversed_ = api.get("/v1/ledger/accounts/2/balances", params={"reversed": "true", "limit": 2}).json()
    assert [int(h["timestamp"]) for h in reversed_] == stamps[:0:-1]
    window = api.get(
        "/v1/ledger/accounts/2/balances", params={"timestamp_min": stamps[1], "timestamp_max": stamps[1]}
    ).json()
    assert [h["credits_posted"] for h in window] == ["30"]
    assert api.get("/v1/ledger/accounts/1/balances").json() == []  # no history flag


# -- CLI ------------------------------------------------------------------------------------------
# Each invocation is a fresh Python process (seconds on a busy machine), so one test walks through the
# flows a user runs: create from a file and from stdin, show balances, and the ways to fail.
def lookup(
    db: Database, account_ids: list[int], transfer_ids: list[int]
) -> tuple[list[Account], list[Transfer]]:
    service = LedgerService(ManualClock())
    with db.uow(write=False) as conn:
        return service.lookup_accounts(conn, account_ids), service.lookup_transfers(conn, transfer_ids)


def result_lines(stdout: str) -> list[tuple[str, str]]:
    """``index  status  timestamp`` lines → (index, status)."""
    rows = [line.split() for line in stdout.splitlines() if line.strip()]
    assert all(len(row) == 3 and row[2].isdigit() for row in rows), stdout
    return [(row[0], row[1]) for row in rows]


def table_rows(stdout: str) -> list[list[str]]:
    """Data rows of the balance table: account, ledger, debits pending/posted, credits pending/posted."""
    rows = [line.replace("│", " ").split() for line in stdout.splitlines()]
    return [row for row in rows if row and row[0].isdigit()]


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """Exit 1, nothing on stdout, and exactly one ``error: …`` line on stderr."""
    assert done.returncode == 1, done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_cli_db_upgrade_migrates_a_fresh_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    done = Cli(DbTarget(url, None), tmp_path)("db", "upgrade")
    assert done.returncode == 0, done.stderr
    db = make_database(url)
    try:
        assert schema_state(db).is_current
        assert lookup(db, [1], [1]) == ([], [])
    finally:
        db.dispose()


def test_cli_ledger_commands(db: Database, cli: Cli) -> None:
    accounts = [{"id": "1", "ledger": 1, "code": 1}, {"id": "2", "ledger": 1, "code": 1, "flags": 8}]
    (cli.cwd / "accounts.json").write_text(json.dumps(accounts), encoding="utf-8")
    done = cli("ledger", "accounts", "accounts.json")
    assert done.returncode == 0, done.stderr
    assert result_lines(done.stdout) == [("0", "created"), ("1", "created")]

    transfers = {"transfers": [transfer(7, 1, 2, 250), transfer(8, 2, 1, 50), transfer(9, 1, 99, 1)]}
    done = cli("ledger", "transfers", "-", stdin=json.dumps(transfers))
    assert done.returncode == 2, done.stderr  # one event was not created
    assert result_lines(done.stdout) == [
        ("0", "created"),
        ("1", "created"),
        ("2", "credit_account_not_found"),
    ]

    done = cli("ledger", "balance", "2", "1")
    assert done.returncode == 0, done.stderr
    assert table_rows(done.stdout) == [["2", "1", "0", "50", "0", "250"], ["1", "1", "0", "250", "0", "50"]]

    assert "unknown account(s): 99" in one_error_line(cli("ledger", "balance", "99"))

    before = lookup(db, [1, 2, 3], [7, 8, 9, 10])
    (cli.cwd / "bad.json").write_text('[{"id": "3", "ledger": 1, "code": 1}', encoding="utf-8")
    assert "invalid JSON" in one_error_line(cli("ledger", "accounts", "bad.json"))
    assert "missing.json" in one_error_line(cli("ledger", "transfers", "missing.json"))
    assert lookup(db, [1, 2, 3], [7, 8, 9, 10]) == before
