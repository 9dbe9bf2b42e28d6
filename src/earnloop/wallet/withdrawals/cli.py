"""``earnloop withdrawals …``: payout destinations, withdrawals and their resolution from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from earnloop.cli_support import EXPECTED_ERRORS, fail, ready_database, secret_box
from earnloop.config import get_settings
from earnloop.db.engine import Database
from earnloop.ledger.cli import run
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import build_engine
from earnloop.wallet.screening import keep_refusal, unwrap
from earnloop.wallet.withdrawals import reviews
from earnloop.wallet.withdrawals import service as withdrawals
from earnloop.wallet.withdrawals.payouts import provider_from_settings

withdrawals_app = typer.Typer(
    help="Withdrawals: destinations, request, resolve unknowns, review held ones.", no_args_is_help=True
)

UserId = Annotated[int, typer.Argument(min=1, help="User id.")]
CurrencyArg = Annotated[str, typer.Argument(help="ISO 4217 code, e.g. TWD.")]
Key = Annotated[str, typer.Option(help="Idempotency key: re-running with it changes nothing.")]
T = TypeVar("T")


def _with_database(action: Callable[[Database, LedgerService], T]) -> T:
    """For flows spanning several transactions (they call the payout provider between them)."""
    db = ready_database()
    try:
        return action(db, LedgerService(SystemClock()))
    except EXPECTED_ERRORS as exc:
        fail(str(exc))
    finally:
        db.dispose()


@withdrawals_app.command("add-destination")
def add_destination(
    user_id: UserId,
    kind: Annotated[str, typer.Option(help="bank or ewallet")],
    institution: Annotated[str, typer.Option(help="Bank or e-wallet name / code.")],
    holder: Annotated[str, typer.Option(help="Account holder's name.")],
    account: Annotated[str, typer.Option(help="Account number (stored; shown masked).")],
) -> None:
    """Register a payout destination for a user (the account number is stored encrypted, shown masked)."""
    box, risk = secret_box(), build_engine(get_settings())
    created = run(
        lambda conn, ledger: keep_refusal(withdrawals.add_destination)(
            conn,
            user_id=user_id,
            kind=kind,
            institution=institution,
            holder_name=holder,
            account_number=account,
            now_ns=ledger.clock.now_ns(),
            risk=risk,
            box=box,
        )
    )
    try:
        typer.echo(json.dumps(unwrap(created)))
    except EXPECTED_ERRORS as exc:  # the refusal, committed with its decision
        fail(str(exc))


@withdrawals_app.command("request")
def request(
    user_id: UserId,
    currency: CurrencyArg,
    amount: Annotated[int, typer.Argument(min=1, help="Minor units.")],
    destination: Annotated[int, typer.Option(min=1, help="Payout destination id.")],
    key: Key,
) -> None:
    """Withdraw: hold the money, call the payout provider, apply its answer."""
    settings = get_settings()
    provider, box = provider_from_settings(settings), secret_box(settings)
    result = _with_database(
        lambda db, ledger: withdrawals.request_withdrawal(
            db,
            ledger,
            provider,
            idempotency_key=key,
            user_id=user_id,
            destination_id=destination,
            currency_code=currency,
            amount=amount,
            limits=withdrawals.Limits.from_settings(settings),
            risk=build_engine(settings),
            box=box,
        )
    )
    typer.echo(json.dumps(result))


@withdrawals_app.command("list")
def list_(user_id: UserId, limit: Annotated[int, typer.Option(min=1, max=200)] = 20) -> None:
    """A user's withdrawals, newest first (JSON lines)."""
    rows = run(lambda conn, _: withdrawals.list_withdrawals(conn, user_id, limit=limit), write=False)
    for row in rows:
        typer.echo(json.dumps(row))


@withdrawals_app.command("resolve")
def resolve(
    stale_after_s: Annotated[int | None, typer.Option(min=0, help="Default: the setting.")] = None,
) -> None:
    """Ask the provider about every withdrawal whose outcome is unknown and apply the answers."""
    settings = get_settings()
    provider = provider_from_settings(settings)
    stale = settings.payout_stale_after_s if stale_after_s is None else stale_after_s
    box = secret_box(settings)
    report = _with_database(
        lambda db, ledger: withdrawals.resolve_unknown(
            db, ledger, provider, stale_after_ns=stale * 1_000_000_000, box=box
        )
    )
    typer.echo(json.dumps(report.as_dict()))


@withdrawals_app.command("in-review")
def in_review(limit: Annotated[int, typer.Option(min=1, max=reviews.LIST_MAX)] = 50) -> None:
    """Withdrawals held by risk screening for a reviewer, oldest first (JSON lines)."""
    for row in run(lambda conn, _: reviews.list_in_review(conn, limit=limit), write=False):
        typer.echo(json.dumps(row))


WithdrawalId = Annotated[int, typer.Argument(min=1, help="Withdrawal id.")]
Reviewer = Annotated[str, typer.Option(help="Who decides (kept with the review).")]
Note = Annotated[str, typer.Option(help="Why (kept with the review).")]


@withdrawals_app.command("approve")
def approve(
    withdrawal_id: Annotated[int, typer.Argument(min=1)], reviewer: Reviewer, note: Note = ""
) -> None:
    """Release a held withdrawal: it is submitted to the payout provider now."""
    _decide(withdrawal_id, reviewer, note, approve=True)


@withdrawals_app.command("reject")
def reject(withdrawal_id: WithdrawalId, reviewer: Reviewer, note: Note = "") -> None:
    """Refuse a held withdrawal: its hold is voided, the money is back in the wallet."""
    _decide(withdrawal_id, reviewer, note, approve=False)


def _decide(withdrawal_id: int, reviewer: str, note: str, *, approve: bool) -> None:
    settings = get_settings()
    provider, box = provider_from_settings(settings), secret_box(settings)
    decided = _with_database(
        lambda db, ledger: reviews.review_withdrawal(
            db, ledger, provider, withdrawal_id, approve=approve, reviewer=reviewer, note=note, box=box
        )
    )
    typer.echo(json.dumps(decided))


def register(app: typer.Typer) -> None:
    app.add_typer(withdrawals_app, name="withdrawals")
