"""``/v1/ledger``: batch creation and lookups of accounts and transfers (admin bearer token only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query

from earnloop.api.deps import Admin
from earnloop.api.problems import ProblemError, problem_responses
from earnloop.ledger.results import CreateAccountResult, CreateTransferResult
from earnloop.ledger.schemas import (
    AccountBalanceOut,
    AccountOut,
    AccountsBatch,
    BalanceOut,
    CreateResultOut,
    CreateResultsOut,
    TransferOut,
    TransfersBatch,
)
from earnloop.ledger.types import BATCH_MAX, U128_MAX, AccountFilter, AccountFilterFlags

_ERRORS = problem_responses(401, 404, 422)
# Ids in a query string: the HTTP server takes a request line of at most ~64 KiB, so a lookup names at most
# ~1,500 ids (longer lists: several lookups, or POST the accounts/transfers). Digits, commas and spaces.
IDS_MAX_CHARS = 60_000
Ids = Annotated[
    str,
    Query(max_length=IDS_MAX_CHARS, pattern=r"^[0-9, ]+$", description="Comma-separated decimal u128 ids."),
]
router = APIRouter(prefix="/v1/ledger", tags=["ledger"], responses=_ERRORS)


def _results(results: Sequence[CreateAccountResult | CreateTransferResult]) -> CreateResultsOut:
    return CreateResultsOut(
        results=[
            CreateResultOut(index=i, status=r.status.name.lower(), code=int(r.status), timestamp=r.timestamp)
            for i, r in enumerate(results)
        ]
    )


def _ids(raw: str, name: str = "ids") -> list[int]:
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts or len(parts) > BATCH_MAX:
        raise ProblemError(422, "invalid-ids", "Invalid ids", f"{name}: 1 to {BATCH_MAX} comma-separated ids")
    ids = []
    for part in parts:
        if not (part.isascii() and part.isdigit()) or int(part) > U128_MAX:
            raise ProblemError(422, "invalid-ids", "Invalid ids", f"{name}: {part[:40]!r} is not a u128")
        ids.append(int(part))
    return ids


def _one_id(raw: str, name: str = "account_id") -> int:
    ids = _ids(raw, name)
    if len(ids) != 1:
        raise ProblemError(422, "invalid-ids", "Invalid ids", f"{name}: exactly one id")
    return ids[0]


@router.post("/accounts", response_model=CreateResultsOut)
def create_accounts(batch: AccountsBatch, ctx: Admin) -> CreateResultsOut:
    """Create up to 8,190 accounts; one result per account, in order (TigerBeetle semantics)."""
    with ctx.db.uow() as conn:  # a malformed batch: InvalidBatchError, answered 422 invalid-batch
        results = ctx.ledger.create_accounts(conn, [a.to_domain() for a in batch.accounts])
    for r in results:
        ctx.metrics.ledger_results.labels("create_accounts", r.status.name.lower()).inc()
    return _results(results)


@router.post("/transfers", response_model=CreateResultsOut)
def create_transfers(batch: TransfersBatch, ctx: Admin) -> CreateResultsOut:
    """Create up to 8,190 transfers; one result per transfer, in order. Re-sending is safe."""
    with ctx.db.uow() as conn:  # a malformed batch: InvalidBatchError, answered 422 invalid-batch
        results = ctx.ledger.create_transfers(conn, [t.to_domain() for t in batch.transfers])
    for r in results:
        ctx.metrics.ledger_results.labels("create_transfers", r.status.name.lower()).inc()
    return _results(results)


@router.get("/accounts", response_model=list[AccountOut])
def lookup_accounts(ctx: Admin, ids: Ids) -> list[AccountOut]:
    """Accounts by comma-separated ids; unknown ids are left out."""
    with ctx.db.uow(write=False) as conn:
        return [AccountOut.of(a) for a in ctx.ledger.lookup_accounts(conn, _ids(ids))]


@router.get("/transfers", response_model=list[TransferOut])
def lookup_transfers(ctx: Admin, ids: Ids) -> list[TransferOut]:
    """Transfers by comma-separated ids; unknown ids are left out."""
    with ctx.db.uow(write=False) as conn:
        return [TransferOut.of(t) for t in ctx.ledger.lookup_transfers(conn, _ids(ids))]


@router.get("/accounts/{account_id}/balance", response_model=BalanceOut)
def account_balance(
    account_id: str, ctx: Admin, as_of: Annotated[int | None, Query(ge=1, le=(1 << 63) - 1)] = None
) -> BalanceOut:
    """Current balance, or the balance as of a timestamp (ns) for accounts with the history flag."""
    key = _one_id(account_id)
    with ctx.db.uow(write=False) as conn:
        found = ctx.ledger.lookup_accounts(conn, [key])
        if not found:
            raise ProblemError(404, "account-not-found", "Account not found", f"no account {key}")
        account = found[0]
        balance = account if as_of is None else ctx.ledger.balance_as_of(conn, key, as_of)
    if balance is None:
        raise ProblemError(
            404, "no-history", "No balance history", "needs the history flag and as_of ≥ creation"
        )
    return BalanceOut(
        account_id=key,
        ledger=account.ledger,
        debits_pending=balance.debits_pending,
        debits_posted=balance.debits_posted,
        credits_pending=balance.credits_pending,
        credits_posted=balance.credits_posted,
        net_credit=balance.credits_posted - balance.debits_posted,
        available_credit=balance.credits_posted - balance.debits_posted - balance.debits_pending,
        as_of=as_of,
    )


def _filter(account_id: str, limit: int, reversed_: bool, ts_min: int, ts_max: int) -> AccountFilter:
    key = _one_id(account_id)
    flags = AccountFilterFlags.DEBITS | AccountFilterFlags.CREDITS
    if reversed_:
        flags |= AccountFilterFlags.REVERSED
    return AccountFilter(account_id=key, limit=limit, flags=flags, timestamp_min=ts_min, timestamp_max=ts_max)


Limit = Annotated[int, Query(ge=1, le=BATCH_MAX)]
Ts = Annotated[int, Query(ge=0, le=(1 << 63) - 1)]


@router.get("/accounts/{account_id}/transfers", response_model=list[TransferOut])
def account_transfers(
    account_id: str,
    ctx: Admin,
    limit: Limit = 100,
    reversed: bool = False,
    timestamp_min: Ts = 0,
    timestamp_max: Ts = 0,
) -> list[TransferOut]:
    """Transfers of one account by timestamp (page with ``timestamp_min`` = last seen + 1)."""
    f = _filter(account_id, limit, reversed, timestamp_min, timestamp_max)
    with ctx.db.uow(write=False) as conn:
        return [TransferOut.of(t) for t in ctx.ledger.get_account_transfers(conn, f)]


@router.get("/accounts/{account_id}/balances", response_model=list[AccountBalanceOut])
def account_balances(
    account_id: str,
    ctx: Admin,
    limit: Limit = 100,
    reversed: bool = False,
    timestamp_min: Ts = 0,
    timestamp_max: Ts = 0,
) -> list[AccountBalanceOut]:
    """Balance history (accounts with the history flag), one entry per transfer."""
    f = _filter(account_id, limit, reversed, timestamp_min, timestamp_max)
    with ctx.db.uow(write=False) as conn:
        return [AccountBalanceOut.of(b) for b in ctx.ledger.get_account_balances(conn, f)]
