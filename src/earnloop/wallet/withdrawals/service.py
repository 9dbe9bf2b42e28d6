"""Withdrawals: a user's money leaves the platform to a payout destination (bank / e-wallet).

The flow, and why it cannot lose or double-pay money:

1. **Hold** (one transaction, :func:`hold`): limits are checked (minimum amount, daily limit, frozen
   while the user owes a debt), the withdrawal is screened by the risk engine (``screening.py``:
   ``deny`` refuses it, nothing held; ``review`` holds it in state ``in_review``, not submitted until a
   reviewer decides, ``reviews.py``), a *pending* ledger transfer user → PAYOUTS reserves the money
   ("payouts in flight"; no timeout, so it never expires by itself), and the withdrawal row is written
   in state ``requested`` with its provider request id fixed **now**. Commit.
2. **Submit** (:func:`submit_held`), outside any transaction: the provider is called with that request id.
3. **Apply** (a new transaction, :func:`apply_answer`): ``paid`` → the pending transfer is posted
   (state ``paid``); ``failed`` → voided (state ``failed``, the money is back); ``pending`` → state
   ``processing``; a timeout, connection error, 5xx or unreadable answer → state ``unknown`` and the
   money stays held.
4. **Resolve** (:func:`resolve_unknown`, worker sweep and CLI): for every ``unknown`` withdrawal, and
   every ``requested`` / ``processing`` one older than the stale delay, the provider is **asked**
   (inquiry) and the final answer applied. It never re-submits blindly: only when the inquiry says the
   provider has never seen the request id is the *same* request id submitted again, which is safe
   because providers are idempotent on it (a first attempt that arrives late is then paid once).

Every state change is one guarded ``UPDATE … WHERE state IN (open states)``; the ledger post / void
happens only when that update changed the row, in the same transaction. So a duplicate, late or
concurrent answer (callback, inquiry, response) cannot post twice, and a contradicting one is refused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, cast

import structlog
from sqlalchemy import Connection, and_, insert, or_, select, update

from earnloop.db.engine import Database
from earnloop.idempotency import service as idem
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import AMOUNT_MAX, Transfer, TransferFlags, dec128, enc128
from earnloop.outbox import service as outbox
from earnloop.risk import reviews
from earnloop.risk.engine import RiskEngine
from earnloop.secretbox import SecretBox, process_box
from earnloop.wallet.chart import AccountKind, AccountRef, TransferKind, transfer_id
from earnloop.wallet.errors import (
    NotFoundError,
    StateConflictError,
)
from earnloop.wallet.ledger_ops import ensure_accounts, submit
from earnloop.wallet.screening import (
    UNKNOWN,
    Presence,
    event_ref,
    keep_refusal,
    raise_if_refused,
    refuse_unless_allowed,
    unwrap,
)
from earnloop.wallet.service import check_amount, require_wallet, system_account, user_account
from earnloop.wallet.withdrawals.destinations import add_destination as add_destination
from earnloop.wallet.withdrawals.destinations import list_destinations as list_destinations
from earnloop.wallet.withdrawals.destinations import load_destination
from earnloop.wallet.withdrawals.destinations import mask as mask
from earnloop.wallet.withdrawals.destinations import remove_destination as remove_destination
from earnloop.wallet.withdrawals.limits import Limits as Limits
from earnloop.wallet.withdrawals.limits import check_allowed
from earnloop.wallet.withdrawals.limits import used_today as used_today
from earnloop.wallet.withdrawals.models import OPEN_STATES
from earnloop.wallet.withdrawals.models import withdrawals as w
from earnloop.wallet.withdrawals.payouts import (
    PayoutAnswer,
    PayoutProvider,
    PayoutRequest,
    PayoutUnknownError,
)
from earnloop.wallet.withdrawals.schemas import Withdrawal
from earnloop.wallet.withdrawals.screening import screen_withdrawal

log = structlog.get_logger("earnloop.withdrawals")

NS_PER_S = 1_000_000_000
RESOLVE_BATCH_MAX = 200
LIST_MAX = 200
REVIEW_SOURCE = "withdrawal"  # a held withdrawal's review: (REVIEW_SOURCE, str(withdrawal id))


# -- withdrawals ----------------------------------------------------------------------------------------
def as_dict(row: Any) -> Withdrawal:
    return {
        "withdrawal_id": row.id,
        "user_id": row.user_id,
        "currency": row.currency,
        "amount": row.amount,
        "destination_id": row.destination_id,
        "request_id": row.request_id,
        "state": row.state,
        "provider_ref": row.provider_ref,
        "failure_reason": row.failure_reason,
        "created_at_ns": row.created_at_ns,
        "updated_at_ns": row.updated_at_ns,
    }


def _load(conn: Connection, withdrawal_id: int) -> Any:
    row = conn.execute(select(w).where(w.c.id == withdrawal_id)).first()
    if row is None:
        raise NotFoundError(f"no withdrawal {withdrawal_id}")
    return row


def get_withdrawal(conn: Connection, user_id: int, withdrawal_id: int) -> Withdrawal:
    row = _load(conn, withdrawal_id)
    if row.user_id != user_id:
        raise NotFoundError(f"no withdrawal {withdrawal_id}")
    return as_dict(row)


def list_withdrawals(conn: Connection, user_id: int, *, limit: int = 50) -> list[Withdrawal]:
    rows = conn.execute(
        select(w).where(w.c.user_id == user_id).order_by(w.c.id.desc()).limit(max(1, min(limit, LIST_MAX)))
    )
    return [as_dict(r) for r in rows]


def _scope(user_id: int) -> str:
    return f"withdrawal.request:{user_id}"


def screened_ref(user_id: int, idempotency_key: str) -> str:
    """The reference a withdrawal request's risk decision is recorded under."""
    return event_ref("withdrawal", _scope(user_id), idempotency_key)


def hold(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    user_id: int,
    destination_id: int,
    currency_code: str,
    amount: int,
    limits: Limits,
    risk: RiskEngine,
    presence: Presence = UNKNOWN,
    box: SecretBox | None = None,
) -> Withdrawal:
    """Step 1 (one transaction): check the limits, screen, reserve the money, fix the provider request
    id. A ``deny`` raises :class:`~earnloop.wallet.screening.RiskDeniedError` once the refusal is stored
    as the key's answer; a ``review`` holds the money in state ``in_review`` with a review open."""
    scope = _scope(user_id)
    request = {"destination_id": destination_id, "currency": currency_code.upper(), "amount": amount}
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        raise_if_refused(replay)
        return cast(Withdrawal, replay)
    cur = require_wallet(conn, user_id, currency_code)
    check_amount(amount, minimum=limits.min_amount)
    now = ledger.clock.now_ns()
    destination = check_allowed(conn, ledger, user_id, cur, destination_id, amount, limits, now)
    ref = screened_ref(user_id, idempotency_key)
    decision = screen_withdrawal(
        conn,
        ledger,
        risk,
        ref=ref,
        destination=destination,
        cur=cur,
        amount=amount,
        presence=presence,
        box=box or process_box(),
    )
    if decision.outcome == "deny":
        refuse_unless_allowed(conn, decision, scope=scope, idempotency_key=idempotency_key, what="withdrawal")
    in_review = decision.outcome == "review"
    hold_id = transfer_id(scope, idempotency_key, "hold")
    _reserve(conn, ledger, hold_id, user_account(user_id, cur), amount)
    values = {"user_id": user_id, "currency": cur.code, "amount": amount, "destination_id": destination_id}
    new_id = _insert(conn, values, hold_id, "in_review" if in_review else "requested", now)
    if in_review:
        reviews.hold(
            conn,
            event_ref=ref,
            source=REVIEW_SOURCE,
            reward_ref=str(new_id),
            user_id=user_id,
            reasons=decision.reasons,
            now_ns=now,
        )
    return idem.complete(conn, scope, idempotency_key, as_dict(_load(conn, int(new_id))))


def _insert(conn: Connection, values: dict[str, Any], hold_id: int, state: str, now: int) -> int:
    """The withdrawal row, its provider request id fixed now."""
    return int(
        conn.execute(
            insert(w)
            .values(
                **values,
                request_id="wd_" + secrets.token_hex(16),
                hold_transfer_id=enc128(hold_id),
                state=state,
                inquiries=0,
                created_at_ns=now,
                updated_at_ns=now,
            )
            .returning(w.c.id)
        ).scalar_one()
    )


def _reserve(conn: Connection, ledger: LedgerService, hold_id: int, user: AccountRef, amount: int) -> None:
    """The pending transfer user → ``PAYOUTS`` that holds the money while the payout is in flight."""
    payouts = system_account(AccountKind.PAYOUTS, user.currency)
    ensure_accounts(conn, ledger, [payouts])
    submit(
        conn,
        ledger,
        [
            Transfer(
                id=hold_id,
                debit_account_id=user.id,
                credit_account_id=payouts.id,
                amount=amount,
                ledger=user.ledger,
                code=int(TransferKind.WITHDRAWAL_HOLD),
                flags=TransferFlags.PENDING,  # no timeout: only the provider's answer may release it
            )
        ],
    )


def _payout_request(conn: Connection, row: Any, box: SecretBox) -> PayoutRequest:
    dest = load_destination(conn, row.user_id, row.destination_id, active_only=False)
    return PayoutRequest(
        request_id=row.request_id,
        amount=row.amount,
        currency=row.currency,
        destination_kind=dest.kind,
        institution=dest.institution,
        holder_name=dest.holder_name,
        account_number=box.open(dest.account_number),
    )


def submit_held(
    db: Database,
    ledger: LedgerService,
    provider: PayoutProvider,
    withdrawal_id: int,
    box: SecretBox | None = None,
) -> Withdrawal:
    """Steps 2–3: call the provider (no transaction open) and apply its answer in a new transaction.

    Only a withdrawal still in ``requested`` is submitted (a replayed request, or one whose process died
    before calling the provider): with the same request id, which the provider is idempotent on."""
    with db.uow(write=False) as conn:
        row = _load(conn, withdrawal_id)
        if row.state != "requested":
            return as_dict(row)
        request = _payout_request(conn, row, box or process_box())
    try:
        answer = provider.submit(request)
    except PayoutUnknownError as exc:
        log.warning(
            "withdrawal_unknown", withdrawal_id=withdrawal_id, request_id=row.request_id, error=str(exc)
        )
        with db.uow() as conn:
            _transition(conn, ledger, withdrawal_id, ("requested",), "unknown")
    else:
        with db.uow() as conn:
            apply_answer(conn, ledger, answer)
    with db.uow(write=False) as conn:
        return as_dict(_load(conn, withdrawal_id))


def request_withdrawal(
    db: Database,
    ledger: LedgerService,
    provider: PayoutProvider,
    *,
    idempotency_key: str,
    user_id: int,
    destination_id: int,
    currency_code: str,
    amount: int,
    limits: Limits,
    risk: RiskEngine,
    presence: Presence = UNKNOWN,
    box: SecretBox | None = None,
) -> Withdrawal:
    """The whole flow for one request: hold (commit), submit, apply. Returns the withdrawal as it stands
    (``paid``, ``failed``, ``processing`` or ``unknown``; ``in_review`` when risk screening holds it for
    a reviewer). A retry with the same key never holds twice; a refusal is committed, then raised."""
    with db.uow() as conn:
        held = keep_refusal(hold)(
            conn,
            ledger,
            idempotency_key=idempotency_key,
            user_id=user_id,
            destination_id=destination_id,
            currency_code=currency_code,
            amount=amount,
            limits=limits,
            risk=risk,
            presence=presence,
            box=box,
        )
    return submit_held(db, ledger, provider, int(unwrap(held)["withdrawal_id"]), box)


def _transition(
    conn: Connection, ledger: LedgerService, withdrawal_id: int, expected: tuple[str, ...], new: str
) -> bool:
    """Guarded non-final state change; False when the row was not in an expected state."""
    changed = conn.execute(
        update(w)
        .where(w.c.id == withdrawal_id, w.c.state.in_(expected))
        .values(state=new, updated_at_ns=ledger.clock.now_ns())
    ).rowcount
    return changed == 1


def apply_answer(conn: Connection, ledger: LedgerService, answer: PayoutAnswer) -> Withdrawal:
    """Apply a provider answer (response, inquiry or callback). Idempotent: an answer already applied
    changes nothing; a final answer contradicting the recorded one raises :class:`StateConflictError`."""
    row = conn.execute(select(w).where(w.c.request_id == answer.request_id)).first()
    if row is None:
        raise NotFoundError(f"no withdrawal with request id {answer.request_id}")
    if answer.status in ("paid", "failed"):
        _finish(conn, ledger, row, answer)
    elif answer.status == "pending":
        _transition(conn, ledger, row.id, ("requested", "unknown"), "processing")
    return as_dict(_load(conn, row.id))


def _finish(conn: Connection, ledger: LedgerService, row: Any, answer: PayoutAnswer) -> None:
    final = answer.status
    changed = conn.execute(
        update(w)
        .where(w.c.id == row.id, w.c.state.in_(OPEN_STATES))
        .values(
            state=final,
            provider_ref=answer.provider_ref,
            failure_reason=answer.reason if final == "failed" else None,
            updated_at_ns=ledger.clock.now_ns(),
        )
    ).rowcount
    if changed != 1:
        current = _load(conn, row.id).state
        if current == final:
            return  # a duplicate or late answer: already applied once
        log.error("withdrawal_answer_conflict", withdrawal_id=row.id, state=current, answer=final)
        raise StateConflictError(f"withdrawal {row.id} is {current}; the provider now says {final}")
    pending_id = dec128(row.hold_transfer_id)
    if final == "paid":
        resolve = Transfer(
            id=transfer_id("withdrawal", row.id, "post"),
            pending_id=pending_id,
            amount=AMOUNT_MAX,
            flags=TransferFlags.POST_PENDING_TRANSFER,
        )
    else:
        resolve = Transfer(
            id=transfer_id("withdrawal", row.id, "void"),
            pending_id=pending_id,
            flags=TransferFlags.VOID_PENDING_TRANSFER,
        )
    submit(conn, ledger, [resolve])
    outbox.emit(
        conn,
        topic="withdrawal.succeeded" if final == "paid" else "withdrawal.failed",
        payload={
            "withdrawal_id": row.id,
            "user_id": row.user_id,
            "currency": row.currency,
            "amount": row.amount,
            "request_id": row.request_id,
            "state": final,
            "reason": answer.reason if final == "failed" else None,
        },
    )
    log.info("withdrawal_final", withdrawal_id=row.id, request_id=row.request_id, state=final)


@dataclass
class ResolveReport:
    examined: int = 0
    paid: int = 0
    failed: int = 0
    pending: int = 0
    resubmitted: int = 0
    still_unknown: int = 0
    conflicts: int = 0

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def resolve_unknown(
    db: Database,
    ledger: LedgerService,
    provider: PayoutProvider,
    *,
    stale_after_ns: int,
    limit: int = RESOLVE_BATCH_MAX,
    box: SecretBox | None = None,
) -> ResolveReport:
    """Ask the provider about every ``unknown`` withdrawal and every ``requested`` / ``processing`` one
    untouched for ``stale_after_ns``, and apply the answers (one transaction each, provider calls
    outside transactions). ``not_found`` → submitted again under the same request id (idempotent)."""
    report = ResolveReport()
    now = ledger.clock.now_ns()
    with db.uow(write=False) as conn:
        rows = conn.execute(
            select(w)
            .where(
                or_(
                    w.c.state == "unknown",
                    and_(
                        w.c.state.in_(("requested", "processing")), w.c.updated_at_ns <= now - stale_after_ns
                    ),
                )
            )
            .order_by(w.c.updated_at_ns, w.c.id)
            .limit(max(1, min(limit, RESOLVE_BATCH_MAX)))
        ).all()
        opener = box or process_box()
        requests = {row.id: _payout_request(conn, row, opener) for row in rows}
    for row in rows:
        report.examined += 1
        try:
            answer = provider.inquire(row.request_id)
            if answer.status == "not_found":
                answer = provider.submit(requests[row.id])
                report.resubmitted += 1
        except PayoutUnknownError as exc:
            log.warning("withdrawal_inquiry_unknown", withdrawal_id=row.id, error=str(exc))
            report.still_unknown += 1
            with db.uow() as conn:
                _count_inquiry(conn, ledger, row.id)
            continue
        try:
            with db.uow() as conn:
                _count_inquiry(conn, ledger, row.id)
                apply_answer(conn, ledger, answer)
        except StateConflictError:
            report.conflicts += 1
            continue
        if answer.status == "paid":
            report.paid += 1
        elif answer.status == "failed":
            report.failed += 1
        else:
            report.pending += 1
    return report


def _count_inquiry(conn: Connection, ledger: LedgerService, withdrawal_id: int) -> None:
    conn.execute(
        update(w)
        .where(w.c.id == withdrawal_id, w.c.state.in_(OPEN_STATES))
        .values(inquiries=w.c.inquiries + 1, updated_at_ns=ledger.clock.now_ns())
    )
