"""The cashback lifecycle: pending → confirmed at ``release_at`` (by the worker) → or reversed.

- ``credit_pending``: a pending ledger transfer from the funding account (partner, campaign, operator)
  into the user's wallet; idempotent on (source, ref).
- ``confirm_due``: posts every pending reward whose release time has come, except those held by an
  open risk review (``risk.reviews.held``); new earnings first repay any open debt (linked transfers:
  all or nothing).
- ``reverse``: before confirmation, voids the pending transfer; after it, a **clawback**: a balancing
  debit takes what the user still has, and any shortfall is recorded as debt (a receivable on the
  user's debt account), which freezes withdrawals until repaid.
- ``adjust_down``: a partial refund shrinks a reward: while pending, its pending transfer is replaced
  by a smaller one (same entry, same ref); once confirmed, the difference is clawed back (debt on a
  shortfall).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from earnloop.currencies import currency
from earnloop.db import driver
from earnloop.idempotency import service as idem
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import AMOUNT_MAX, Transfer, TransferFlags, dec128, enc128
from earnloop.risk import reviews
from earnloop.risk.outcomes import OutcomeKind, record_outcome
from earnloop.risk.outcomes import event_ref as outcome_ref
from earnloop.wallet.cashback.models import cashback_entries as entries
from earnloop.wallet.chart import AccountKind, AccountRef, TransferKind, transfer_id
from earnloop.wallet.errors import InvalidAmountError, NotFoundError, StateConflictError
from earnloop.wallet.ledger_ops import balance_of, ensure_accounts, submit
from earnloop.wallet.service import check_amount, debt_account, open_wallet, user_account

SOURCES = frozenset({"game", "shopping", "einvoice", "promotion", "manual"})
FUNDING_KINDS = frozenset(
    {AccountKind.PARTNER_FUNDING, AccountKind.CAMPAIGN_BUDGET, AccountKind.OPERATOR_FUNDING}
)
CONFIRM_BATCH_MAX = 2_000
ENTRIES_MAX = 1_000
TIMESTAMP_MAX_NS = (1 << 63) - 1


@dataclass(frozen=True)
class Funding:
    """Which account pays a reward: a partner's commissions, a campaign budget, or the operator."""

    kind: AccountKind
    owner: int


def _entry_dict(row: Any) -> dict[str, Any]:
    return {
        "entry_id": row.id,
        "user_id": row.user_id,
        "currency": row.currency,
        "source": row.source,
        "ref": row.ref,
        "amount": row.amount,
        "status": row.status,
        "release_at_ns": row.release_at_ns,
        "clawed_back": row.clawed_back,
        "debt_recorded": row.debt_recorded,
    }


def _load(conn: Connection, source: str, ref: str) -> Any:
    return conn.execute(select(entries).where(entries.c.source == source, entries.c.ref == ref)).first()


def find(conn: Connection, source: str, ref: str) -> dict[str, Any] | None:
    """The reward recorded for (source, ref), if any."""
    row = _load(conn, source, ref)
    return None if row is None else _entry_dict(row)


def entries_of_user(
    conn: Connection, user_id: int, *, source: str | None = None, limit: int = ENTRIES_MAX
) -> list[dict[str, Any]]:
    """The user's rewards (a campaign bonus is an entry of its own, ``<ref>:bonus:<campaign id>``),
    newest first, each with ``created_at_ns``; only ``source``'s when given (the app's progress pages)."""
    query = select(entries).where(entries.c.user_id == user_id)
    if source is not None:
        query = query.where(entries.c.source == source)
    rows = conn.execute(query.order_by(entries.c.id.desc()).limit(min(limit, ENTRIES_MAX)))
    return [{**_entry_dict(row), "created_at_ns": row.created_at_ns} for row in rows]


_INSERT_ENTRY = insert(entries).returning(*entries.c)  # run on the driver (every reward)


def credit_pending(
    conn: Connection,
    ledger: LedgerService,
    *,
    source: str,
    ref: str,
    user_id: int,
    currency_code: str,
    amount: int,
    release_at_ns: int,
    funding: Funding,
) -> dict[str, Any]:
    """Record a pending reward. Same (source, ref) and body again → the same answer."""
    request = {
        "user_id": user_id,
        "currency": currency_code,
        "amount": amount,
        "release_at_ns": release_at_ns,
        "funding": [int(funding.kind), funding.owner],
    }
    scope = "cashback.credit"
    replay = idem.claim(conn, scope, f"{source}:{ref}", request)
    if replay is not None:
        return replay
    _check_reward(source, funding, amount, release_at_ns)
    cur = open_wallet(conn, ledger, user_id, currency_code)
    funding_ref = AccountRef(funding.kind, funding.owner, cur)
    ensure_accounts(conn, ledger, [funding_ref])
    pending_id = transfer_id(scope, source, ref)
    _submit_pending(conn, ledger, pending_id, funding_ref, user_account(user_id, cur), amount)
    now = time.time_ns()
    row = driver.first(
        conn,
        _INSERT_ENTRY,
        {
            "user_id": user_id,
            "currency": cur.code,
            "source": source,
            "ref": ref,
            "amount": amount,
            "funding_kind": int(funding.kind),
            "funding_owner": funding.owner,
            "pending_transfer_id": enc128(pending_id),
            "status": "pending",
            "release_at_ns": release_at_ns,
            "created_at_ns": now,
            "updated_at_ns": now,
            "clawed_back": 0,
            "debt_recorded": 0,
        },
    )
    return idem.complete(conn, scope, f"{source}:{ref}", _entry_dict(row))


def _check_reward(source: str, funding: Funding, amount: int, release_at_ns: int) -> None:
    if source not in SOURCES:
        raise InvalidAmountError(f"source must be one of {', '.join(sorted(SOURCES))}")
    if funding.kind not in FUNDING_KINDS:
        raise InvalidAmountError("funding must be a partner, campaign or operator account")
    check_amount(amount)
    if not isinstance(release_at_ns, int) or not 0 <= release_at_ns <= TIMESTAMP_MAX_NS:
        raise InvalidAmountError("release_at_ns must be a Unix time in nanoseconds")


def _submit_pending(
    conn: Connection,
    ledger: LedgerService,
    pending_id: int,
    funding: AccountRef,
    user: AccountRef,
    amount: int,
) -> None:
    """The reward's pending transfer funding → the user (posted on release, voided on reversal)."""
    submit(
        conn,
        ledger,
        [
            Transfer(
                id=pending_id,
                debit_account_id=funding.id,
                credit_account_id=user.id,
                amount=amount,
                ledger=user.ledger,
                code=int(TransferKind.CASHBACK_PENDING),
                flags=TransferFlags.PENDING,
            )
        ],
    )


def confirm_due(conn: Connection, ledger: LedgerService, now_ns: int) -> int:
    """Confirm up to one batch of rewards whose release time has passed; returns how many."""
    rows = conn.execute(
        select(entries)
        .where(
            entries.c.status == "pending",
            entries.c.release_at_ns <= now_ns,
            ~reviews.held(entries.c.source, entries.c.ref),  # a reward under risk review waits
        )
        .order_by(entries.c.release_at_ns, entries.c.id)
        .limit(CONFIRM_BATCH_MAX)
    ).all()
    for row in rows:
        _confirm(conn, ledger, row)
    return len(rows)


def _confirm(conn: Connection, ledger: LedgerService, row: Any) -> None:
    cur = currency(row.currency)
    user, debt = user_account(row.user_id, cur), debt_account(row.user_id, cur)
    pending_id = dec128(row.pending_transfer_id)
    post = Transfer(
        id=transfer_id("cashback.confirm", pending_id),
        pending_id=pending_id,
        amount=AMOUNT_MAX,
        flags=TransferFlags.POST_PENDING_TRANSFER,
    )
    owed = _open_debt(conn, ledger, row.user_id, row.currency)
    batch = [post]
    if owed > 0:
        post.flags |= TransferFlags.LINKED
        batch.append(
            Transfer(
                id=transfer_id("cashback.repay", pending_id),
                debit_account_id=user.id,
                credit_account_id=debt.id,
                amount=min(owed, row.amount),
                ledger=cur.ledger,
                code=int(TransferKind.DEBT_REPAID),
            )
        )
    submit(conn, ledger, batch)
    _set_status(conn, row.id, "confirmed")


def _open_debt(conn: Connection, ledger: LedgerService, user_id: int, currency_code: str) -> int:
    account = balance_of(conn, ledger, debt_account(user_id, currency(currency_code)))
    return 0 if account is None else account.debits_posted - account.credits_posted


def _set_status(conn: Connection, entry_id: int, status: str, **extra: int) -> None:
    conn.execute(
        update(entries)
        .where(entries.c.id == entry_id)
        .values(status=status, updated_at_ns=time.time_ns(), **extra)
    )


def reverse(conn: Connection, ledger: LedgerService, *, source: str, ref: str) -> dict[str, Any]:
    """Cancel a reward: void while pending, claw back once confirmed. Repeating it is harmless."""
    row = _load(conn, source, ref)
    if row is None:
        raise NotFoundError(f"no cashback {source}:{ref}")
    if row.status in ("reversed", "clawed_back"):
        return _entry_dict(row)
    pending_id = dec128(row.pending_transfer_id)
    if row.status == "pending":
        submit(
            conn,
            ledger,
            [
                Transfer(
                    id=transfer_id("cashback.void", pending_id),
                    pending_id=pending_id,
                    flags=TransferFlags.VOID_PENDING_TRANSFER,
                )
            ],
        )
        _set_status(conn, row.id, "reversed")
    else:
        taken, owed = _claw_back(conn, ledger, row, pending_id)
        _set_status(conn, row.id, "clawed_back", clawed_back=taken, debt_recorded=owed)
    kind: OutcomeKind = "reversed" if row.status == "pending" else "clawed_back"
    record_outcome(
        conn, event_ref=outcome_ref(source, ref), kind=kind, amount=int(row.amount), at_ns=time.time_ns()
    )
    return _entry_dict(_load(conn, source, ref))


def _claw_back(conn: Connection, ledger: LedgerService, row: Any, pending_id: int) -> tuple[int, int]:
    return _take_back(
        conn,
        ledger,
        row,
        row.amount,
        claw_id=transfer_id("cashback.clawback", pending_id),
        debt_id=transfer_id("cashback.debt", pending_id),
    )


def _take_back(
    conn: Connection, ledger: LedgerService, row: Any, amount: int, *, claw_id: int, debt_id: int
) -> tuple[int, int]:
    """Take ``amount`` of a confirmed reward back: what the user has, the shortfall as debt."""
    cur = currency(row.currency)
    user, debt = user_account(row.user_id, cur), debt_account(row.user_id, cur)
    funding = AccountRef(AccountKind(row.funding_kind), row.funding_owner, cur)
    submit(
        conn,
        ledger,
        [
            Transfer(
                id=claw_id,
                debit_account_id=user.id,
                credit_account_id=funding.id,
                amount=amount,
                ledger=cur.ledger,
                code=int(TransferKind.CLAWBACK),
                flags=TransferFlags.BALANCING_DEBIT,
            )
        ],
    )
    (claw,) = ledger.lookup_transfers(conn, [claw_id])
    shortfall = amount - claw.amount
    if shortfall > 0:
        submit(
            conn,
            ledger,
            [
                Transfer(
                    id=debt_id,
                    debit_account_id=debt.id,
                    credit_account_id=funding.id,
                    amount=shortfall,
                    ledger=cur.ledger,
                    code=int(TransferKind.DEBT_RECORDED),
                )
            ],
        )
    return claw.amount, shortfall


def adjust_down(
    conn: Connection, ledger: LedgerService, *, source: str, ref: str, new_amount: int
) -> dict[str, Any]:
    """Shrink a reward to ``new_amount`` (a partial refund); ``0`` reverses it (:func:`reverse`).

    Pending: the pending transfer is voided and a smaller one created in the same linked batch (all or
    nothing); the entry keeps its (source, ref) and release time and points at the new transfer.
    Confirmed: the difference is clawed back (a balancing debit; any shortfall becomes debt).
    The same new amount again changes nothing; a larger one is refused; a reversed reward stays so.
    """
    if not isinstance(new_amount, int) or isinstance(new_amount, bool) or new_amount < 0:
        raise InvalidAmountError("new_amount must be a non-negative integer (minor units)")
    row = _load(conn, source, ref)
    if row is None:
        raise NotFoundError(f"no cashback {source}:{ref}")
    if row.status in ("reversed", "clawed_back") or new_amount == row.amount:
        return _entry_dict(row)
    if new_amount > row.amount:
        raise InvalidAmountError(f"a reward can only shrink: {row.amount} → {new_amount}")
    if new_amount == 0:
        return reverse(conn, ledger, source=source, ref=ref)
    old_pending = dec128(row.pending_transfer_id)
    if row.status == "pending":
        new_pending = transfer_id("cashback.adjust", old_pending, new_amount)
        _update_guarded(conn, row, amount=new_amount, pending_transfer_id=enc128(new_pending))
        _replace_pending(conn, ledger, row, old_pending, new_pending, new_amount)
    else:
        taken, owed = _take_back(
            conn,
            ledger,
            row,
            row.amount - new_amount,
            claw_id=transfer_id("cashback.partial_clawback", old_pending, new_amount),
            debt_id=transfer_id("cashback.partial_debt", old_pending, new_amount),
        )
        _update_guarded(
            conn,
            row,
            amount=new_amount,
            clawed_back=row.clawed_back + taken,
            debt_recorded=row.debt_recorded + owed,
        )
    return _entry_dict(_load(conn, source, ref))


def _update_guarded(conn: Connection, row: Any, **values: Any) -> None:
    """Update an entry only if it is still as read (status and amount): the first writer wins (on
    PostgreSQL the row lock queues the second, which then finds it changed)."""
    changed = conn.execute(
        update(entries)
        .where(entries.c.id == row.id, entries.c.status == row.status, entries.c.amount == row.amount)
        .values(updated_at_ns=time.time_ns(), **values)
    ).rowcount
    if changed != 1:
        raise StateConflictError(f"cashback {row.source}:{row.ref} changed meanwhile; retry")


def _replace_pending(
    conn: Connection, ledger: LedgerService, row: Any, old_pending: int, new_pending: int, amount: int
) -> None:
    cur = currency(row.currency)
    funding = AccountRef(AccountKind(row.funding_kind), row.funding_owner, cur)
    submit(
        conn,
        ledger,
        [
            Transfer(
                id=transfer_id("cashback.void", old_pending),
                pending_id=old_pending,
                flags=TransferFlags.VOID_PENDING_TRANSFER | TransferFlags.LINKED,
            ),
            Transfer(
                id=new_pending,
                debit_account_id=funding.id,
                credit_account_id=user_account(row.user_id, cur).id,
                amount=amount,
                ledger=cur.ledger,
                code=int(TransferKind.CASHBACK_PENDING),
                flags=TransferFlags.PENDING,
            ),
        ],
    )
