"""Malformed and semantically wrong input: refused as a whole, or answered with a result code, and in
every case the database is left exactly as it was (no new rows, balances unchanged).

Malformed input goes through the service (``InvalidBatchError``) and over real HTTP (422
``application/problem+json`` naming the field). Semantic mistakes (unknown accounts, mismatched ledgers)
are ordinary result codes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from earnloop.db.engine import Database
from earnloop.ledger.errors import InvalidBatchError
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import BATCH_MAX, Account, AccountFlags, Transfer

PROBLEM = "application/problem+json"
TABLES = (
    "ledger_accounts",
    "ledger_transfers",
    "ledger_pending_status",
    "ledger_failed_ids",
    "ledger_account_balances",
)

U128_FIELDS = ("id", "debit_account_id", "credit_account_id", "amount", "pending_id", "user_data_128")
BAD_VALUES: dict[str, list[Any]] = {
    "u128": [-1, 2**128, 1.0, 2.5, True, "7", None],
    "u64": [-1, 2**64, 3.0, False, "7"],
    "u32": [-1, 2**32, 1.0, True, "7"],
    "u16": [-1, 2**16, 1.0, True, "7"],
}
TRANSFER_FIELDS = {
    "id": "u128",
    "debit_account_id": "u128",
    "credit_account_id": "u128",
    "amount": "u128",
    "pending_id": "u128",
    "user_data_128": "u128",
    "user_data_64": "u64",
    "timestamp": "u64",
    "user_data_32": "u32",
    "timeout": "u32",
    "ledger": "u32",
    "code": "u16",
    "flags": "u16",
}
ACCOUNT_FIELDS = {
    "id": "u128",
    "user_data_128": "u128",
    "debits_pending": "u128",
    "debits_posted": "u128",
    "credits_pending": "u128",
    "credits_posted": "u128",
    "user_data_64": "u64",
    "timestamp": "u64",
    "user_data_32": "u32",
    "reserved": "u32",
    "ledger": "u32",
    "code": "u16",
    "flags": "u16",
}


def good_transfer(id_: int = 50, amount: int = 5) -> Transfer:
    return Transfer(id=id_, debit_account_id=1, credit_account_id=2, amount=amount, ledger=1, code=1)


def snapshot(db: Database) -> dict[str, Any]:
    """Row counts of every ledger table and the full account rows (balances, flags)."""
    with db.uow(write=False) as conn:
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
        rows = conn.execute(
            text(
                "SELECT id, debits_pending, debits_posted, credits_pending, credits_posted, flags "
                "FROM ledger_accounts ORDER BY id"
            )
        ).all()
    return {"counts": counts, "accounts": [tuple(r) for r in rows]}


@pytest.fixture
def seeded(db: Database, ledger: LedgerService) -> Database:
    """Accounts 1, 2 (ledger 1, 2 with history) and 3 (ledger 2); one posted and one pending transfer."""
    with db.uow() as conn:
        ledger.create_accounts(
            conn,
            [
                Account(id=1, ledger=1, code=1),
                Account(id=2, ledger=1, code=1, flags=AccountFlags.HISTORY),
                Account(id=3, ledger=2, code=1),
            ],
        )
        results = ledger.create_transfers(
            conn, [good_transfer(10, 7), replace(good_transfer(11, 3), flags=2, timeout=60)]
        )
    assert [r.status.name for r in results] == ["CREATED", "CREATED"]
    return db


# -- the service ------------------------------------------------------------------------------------
def test_transfer_fields_out_of_domain_refuse_the_whole_batch(
    seeded: Database, ledger: LedgerService
) -> None:
    before = snapshot(seeded)
    for name, kind in TRANSFER_FIELDS.items():
        for value in BAD_VALUES[kind]:
            bad = replace(good_transfer(51), **{name: value})
            with pytest.raises(InvalidBatchError, match=rf"transfers\[1\]\.{name}\b"), seeded.uow() as conn:
                ledger.create_transfers(conn, [good_transfer(50), bad])
    assert snapshot(seeded) == before


def test_account_fields_out_of_domain_refuse_the_whole_batch(seeded: Database, ledger: LedgerService) -> None:
    before = snapshot(seeded)
    for name, kind in ACCOUNT_FIELDS.items():
        for value in BAD_VALUES[kind]:
            bad = replace(Account(id=21, ledger=1, code=1), **{name: value})
            with pytest.raises(InvalidBatchError, match=rf"accounts\[1\]\.{name}\b"), seeded.uow() as conn:
                ledger.create_accounts(conn, [Account(id=20, ledger=1, code=1), bad])
    assert snapshot(seeded) == before


def test_oversized_batches_and_foreign_objects_are_refused(seeded: Database, ledger: LedgerService) -> None:
    before = snapshot(seeded)
    transfers = [good_transfer(1000 + i, 1) for i in range(BATCH_MAX + 1)]
    accounts = [Account(id=1000 + i, ledger=1, code=1) for i in range(BATCH_MAX + 1)]
    with pytest.raises(InvalidBatchError, match=str(BATCH_MAX)), seeded.uow() as conn:
        ledger.create_transfers(conn, transfers)
    with pytest.raises(InvalidBatchError, match=str(BATCH_MAX)), seeded.uow() as conn:
        ledger.create_accounts(conn, accounts)
    with pytest.raises(InvalidBatchError, match=r"transfers\[1\]"), seeded.uow() as conn:
        ledger.create_transfers(conn, [good_transfer(60), {"id": 61}])  # type: ignore[list-item]
    with pytest.raises(InvalidBatchError, match=r"accounts\[0\]"), seeded.uow() as conn:
        ledger.create_accounts(conn, [good_transfer(62)])  # type: ignore[list-item]
    assert snapshot(seeded) == before
    with seeded.uow() as conn:  # the largest legal batch and an empty one are fine
        assert ledger.create_transfers(conn, []) == []
        assert len(ledger.create_transfers(conn, transfers[:BATCH_MAX])) == BATCH_MAX


MALFORMED_LOOKUPS: list[list[Any]] = [
    [1, -1],
    [2**128],
    [1, 2.0],
    [True],
    ["1"],
    [None],
    list(range(1, BATCH_MAX + 2)),
]


def test_malformed_lookups_raise(seeded: Database, ledger: LedgerService) -> None:
    with seeded.uow(write=False) as conn:
        for ids in MALFORMED_LOOKUPS:
            with pytest.raises(InvalidBatchError):
                ledger.lookup_accounts(conn, ids)
            with pytest.raises(InvalidBatchError):
                ledger.lookup_transfers(conn, ids)


def test_lookups_of_reserved_and_unknown_ids_are_empty(seeded: Database, ledger: LedgerService) -> None:
    with seeded.uow(write=False) as conn:
        assert ledger.lookup_accounts(conn, [0, 2**128 - 1, 99]) == []
        assert ledger.lookup_transfers(conn, [0, 2**128 - 1, 99]) == []
        assert [a.id for a in ledger.lookup_accounts(conn, [])] == []


def test_unknown_accounts_and_mismatched_ledgers_are_result_codes(
    seeded: Database, ledger: LedgerService
) -> None:
    before = snapshot(seeded)
    batch = [
        Transfer(id=70, debit_account_id=98, credit_account_id=2, amount=1, ledger=1, code=1),
        Transfer(id=71, debit_account_id=1, credit_account_id=99, amount=1, ledger=1, code=1),
        Transfer(id=72, debit_account_id=1, credit_account_id=3, amount=1, ledger=1, code=1),
        Transfer(id=73, debit_account_id=1, credit_account_id=2, amount=1, ledger=2, code=1),
        Transfer(id=74, pending_id=98, flags=4),
        Transfer(id=75, pending_id=11, ledger=2, flags=4),
        Transfer(id=76, pending_id=11, debit_account_id=3, flags=8),
    ]
    with seeded.uow() as conn:
        results = ledger.create_transfers(conn, batch)
    assert [r.status.name.lower() for r in results] == [
        "debit_account_not_found",
        "credit_account_not_found",
        "accounts_must_have_the_same_ledger",
        "transfer_must_have_the_same_ledger_as_accounts",
        "pending_transfer_not_found",
        "pending_transfer_has_different_ledger",
        "pending_transfer_has_different_debit_account_id",
    ]
    after = snapshot(seeded)
    # The three "not found" statuses burn their ids (TigerBeetle's transient errors); nothing else moved.
    assert after["accounts"] == before["accounts"]
    assert after["counts"] == {
        **before["counts"],
        "ledger_failed_ids": before["counts"]["ledger_failed_ids"] + 3,
    }
    with seeded.uow(write=False) as conn:
        assert ledger.lookup_transfers(conn, [t.id for t in batch]) == []


def test_bad_accounts_are_result_codes_and_create_nothing(seeded: Database, ledger: LedgerService) -> None:
    before = snapshot(seeded)
    with seeded.uow() as conn:
        results = ledger.create_accounts(
            conn,
            [
                Account(id=30, ledger=0, code=1),
                Account(id=31, ledger=1, code=0),
                Account(id=1, ledger=2, code=1),
                Account(id=32, ledger=1, code=1, flags=6),
            ],
        )
    assert [r.status.name.lower() for r in results] == [
        "ledger_must_not_be_zero",
        "code_must_not_be_zero",
        "exists_with_different_ledger",
        "flags_are_mutually_exclusive",
    ]
    assert snapshot(seeded) == before


# -- over HTTP --------------------------------------------------------------------------------------
T_OK = {"id": "50", "debit_account_id": "1", "credit_account_id": "2", "amount": "5", "ledger": 1, "code": 1}


def _seed_http(api: httpx.Client) -> None:
    accounts = [
        {"id": "1", "ledger": 1, "code": 1},
        {"id": "2", "ledger": 1, "code": 1, "flags": 8},
        {"id": "3", "ledger": 2, "code": 1},
    ]
    assert api.post("/v1/ledger/accounts", json={"accounts": accounts}).status_code == 200
    body = {"transfers": [{**T_OK, "id": "10", "amount": "7"}]}
    assert api.post("/v1/ledger/transfers", json=body).json()["results"][0]["status"] == "created"


def _state(api: httpx.Client) -> tuple[Any, ...]:
    accounts = api.get("/v1/ledger/accounts", params={"ids": "1,2,3,20,21"}).json()
    transfers = api.get("/v1/ledger/transfers", params={"ids": "10,50,51"}).json()
    return (accounts, transfers)


def _assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if field is not None:
        names = [p["name"] for p in body.get("invalid_params", [])]
        assert field in names, (field, names)
    return body


def _transfers(*items: dict[str, Any]) -> dict[str, Any]:
    return {"transfers": list(items)}


HTTP_BAD_TRANSFERS: list[tuple[str, Any, str]] = [
    ("negative amount", _transfers({**T_OK, "amount": -1}), "body.transfers.0.amount"),
    ("negative amount as text", _transfers({**T_OK, "amount": "-1"}), "body.transfers.0.amount"),
    ("float amount", _transfers({**T_OK, "amount": 1.5}), "body.transfers.0.amount"),
    ("integral float amount", _transfers({**T_OK, "amount": 10.0}), "body.transfers.0.amount"),
    ("boolean amount", _transfers({**T_OK, "amount": True}), "body.transfers.0.amount"),
    ("amount in exponent form", _transfers({**T_OK, "amount": "1e3"}), "body.transfers.0.amount"),
    ("garbage id", _transfers({**T_OK, "id": "abc"}), "body.transfers.0.id"),
    ("id above u128 as text", _transfers({**T_OK, "id": str(2**128)}), "body.transfers.0.id"),
    ("id above u128 as number", _transfers({**T_OK, "id": 2**128}), "body.transfers.0.id"),
    (
        "user_data_64 above u64",
        _transfers({**T_OK, "user_data_64": str(2**64)}),
        "body.transfers.0.user_data_64",
    ),
    ("ledger above u32", _transfers({**T_OK, "ledger": 2**32}), "body.transfers.0.ledger"),
    ("timeout above u32", _transfers({**T_OK, "timeout": 2**32}), "body.transfers.0.timeout"),
    ("code above u16", _transfers({**T_OK, "code": 2**16}), "body.transfers.0.code"),
    ("flags above u16", _transfers({**T_OK, "flags": 2**16}), "body.transfers.0.flags"),
    ("missing id", _transfers({k: v for k, v in T_OK.items() if k != "id"}), "body.transfers.0.id"),
    ("unknown field", _transfers({**T_OK, "timestamp": "5"}), "body.transfers.0.timestamp"),
    ("bad second item", _transfers(T_OK, {**T_OK, "id": "51", "amount": -5}), "body.transfers.1.amount"),
    ("unknown top-level field", {**_transfers(T_OK), "dry_run": True}, "body.dry_run"),
    ("missing transfers", {}, "body.transfers"),
    ("transfers not a list", {"transfers": T_OK}, "body.transfers"),
    (
        "batch of 8191",
        _transfers(*[{**T_OK, "id": str(1000 + i)} for i in range(BATCH_MAX + 1)]),
        "body.transfers",
    ),
]


def test_http_malformed_transfers_are_422_and_change_nothing(api: httpx.Client) -> None:
    _seed_http(api)
    before = _state(api)
    for label, body, field in HTTP_BAD_TRANSFERS:
        response = api.post("/v1/ledger/transfers", json=body)
        assert response.status_code == 422, label
        _assert_problem(response, 422, field)
    not_json = api.post(
        "/v1/ledger/transfers", content=b"{not json", headers={"content-type": "application/json"}
    )
    _assert_problem(not_json, 422)
    assert _state(api) == before


def test_http_malformed_accounts_lookups_and_auth(api: httpx.Client) -> None:
    _seed_http(api)
    before = _state(api)
    account = {"id": "20", "ledger": 1, "code": 1}
    bad_accounts = [
        ({"accounts": [{**account, "id": "-20"}]}, "body.accounts.0.id"),
        ({"accounts": [{"id": "20", "code": 1}]}, "body.accounts.0.ledger"),
        ({"accounts": [{**account, "debits_posted": "5"}]}, "body.accounts.0.debits_posted"),
        ({"accounts": [{**account, "user_data_32": 1.0}]}, "body.accounts.0.user_data_32"),
        ({"accounts": [account, {**account, "id": "21", "flags": -1}]}, "body.accounts.1.flags"),
        ({"accounts": [{**account, "id": str(1000 + i)} for i in range(BATCH_MAX + 1)]}, "body.accounts"),
    ]
    for body, field in bad_accounts:
        _assert_problem(api.post("/v1/ledger/accounts", json=body), 422, field)

    for path in (
        "/v1/ledger/accounts?ids=abc",
        "/v1/ledger/accounts?ids=",
        f"/v1/ledger/accounts?ids={2**128}",
        "/v1/ledger/accounts?ids=1,-2",
        "/v1/ledger/accounts?ids=" + ",".join(["1"] * (BATCH_MAX + 1)),
        "/v1/ledger/transfers?ids=1.5",
        "/v1/ledger/accounts/abc/balance",
        f"/v1/ledger/accounts/{2**128}/balance",
        "/v1/ledger/accounts/1,2/balance",
        "/v1/ledger/accounts/2/balance?as_of=0",
        "/v1/ledger/accounts/2/balance?as_of=x",
        "/v1/ledger/accounts/1/transfers?limit=0",
        f"/v1/ledger/accounts/1/transfers?limit={BATCH_MAX + 1}",
        "/v1/ledger/accounts/1/transfers?timestamp_min=-1",
        "/v1/ledger/accounts/x/balances",
    ):
        _assert_problem(api.get(path), 422)

    missing = _assert_problem(api.get("/v1/ledger/accounts/99/balance"), 404)
    assert "99" in missing["detail"]
    _assert_problem(api.get("/v1/ledger/accounts/0/balance"), 404)

    anonymous = httpx.Client(base_url=api.base_url, timeout=30)
    wrong = httpx.Client(base_url=api.base_url, headers={"Authorization": "Bearer nope"}, timeout=30)
    with anonymous, wrong:
        for http in (anonymous, wrong):
            _assert_problem(http.post("/v1/ledger/accounts", json={"accounts": [account]}), 401)
            _assert_problem(http.post("/v1/ledger/transfers", json=_transfers(T_OK)), 401)
            _assert_problem(http.get("/v1/ledger/accounts", params={"ids": "1"}), 401)
            _assert_problem(http.get("/v1/ledger/accounts/1/balance"), 401)
    assert _state(api) == before


def test_http_semantic_mistakes_are_results_and_change_nothing(api: httpx.Client) -> None:
    _seed_http(api)
    before = _state(api)
    body = _transfers(
        {**T_OK, "debit_account_id": "98"},
        {**T_OK, "id": "51", "credit_account_id": "3"},
        {**T_OK, "id": "52", "ledger": 2},
        {**T_OK, "id": "53", "amount": str(2**128 - 1)},
    )
    response = api.post("/v1/ledger/transfers", json=body)
    assert response.status_code == 200
    assert [(r["index"], r["status"], r["code"]) for r in response.json()["results"]] == [
        (0, "debit_account_not_found", 21),
        (1, "accounts_must_have_the_same_ledger", 23),
        (2, "transfer_must_have_the_same_ledger_as_accounts", 24),
        (3, "overflows_debits_posted", 49),
    ]
    accounts = api.post("/v1/ledger/accounts", json={"accounts": [{"id": "20", "ledger": 0, "code": 1}]})
    assert accounts.json()["results"][0]["status"] == "ledger_must_not_be_zero"
    assert _state(api) == before
