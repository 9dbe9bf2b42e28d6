"""Escrow (guaranteed trade) between a buyer (a user) and a seller (a merchant partner).

States (Alipay's names)::

    WAIT_BUYER_PAY ──pay──► WAIT_SELLER_SEND ──ship──► WAIT_BUYER_CONFIRM ──confirm / confirm timeout──►
    TRADE_FINISHED
    WAIT_BUYER_PAY ──pay timeout / cancel──► TRADE_CLOSED
    WAIT_SELLER_SEND, WAIT_BUYER_CONFIRM ──refund (cancel)──► TRADE_CLOSED

- The merchant creates a trade (amount, currency, its own trade ref). The first signed-in user who pays
  becomes the buyer (the trade id works like a payment link; it is random, not guessable).
- Paying places a **pending** ledger transfer buyer → the merchant's ``MERCHANT_SETTLEMENT`` account
  (no ledger timeout: the escrow's own timeouts decide). The buyer's wallet shows it as ``held``.
- Confirm (buyer) or the confirm timeout (``confirm_timeout_s`` after the merchant marks it sent, default
  7 days; swept by the worker) **posts** it to the seller. Refund before release **voids** it.
- Sellers are merchant partners only (users selling to users are not supported yet).
- Each transition is one guarded ``UPDATE … WHERE state = :expected`` done *before* the money moves, so
  two concurrent confirms cannot both succeed; an illegal transition is a 409 ``StateConflictError``.
  Each emits ``escrow.state_changed`` to the merchant (outbox, same transaction).

Who may cancel: the merchant in any open state (refund once paid); the buyer only while the seller has
not sent (``WAIT_SELLER_SEND``); an operator (admin) in any open state (dispute resolution).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, cast

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from earnloop.auth.service import get_partner, user_exists
from earnloop.currencies import currency
from earnloop.idempotency import service as idem
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import AMOUNT_MAX, NS_PER_S, Transfer, TransferFlags, dec128, enc128
from earnloop.outbox import service as outbox
from earnloop.wallet.chart import AccountKind, AccountRef, TransferKind, transfer_id
from earnloop.wallet.errors import (
    InvalidAmountError,
    NotFoundError,
    StateConflictError,
)
from earnloop.wallet.escrow.errors import DuplicateRefError as DuplicateRefError
from earnloop.wallet.escrow.errors import ForbiddenError as ForbiddenError
from earnloop.wallet.escrow.models import escrow_trades as trades
from earnloop.wallet.escrow.schemas import Trade
from earnloop.wallet.ledger_ops import ensure_accounts, submit
from earnloop.wallet.service import check_amount, require_wallet, user_account

WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
WAIT_SELLER_SEND = "WAIT_SELLER_SEND"
WAIT_BUYER_CONFIRM = "WAIT_BUYER_CONFIRM"
TRADE_FINISHED = "TRADE_FINISHED"
TRADE_CLOSED = "TRADE_CLOSED"
OPEN_STATES = (WAIT_BUYER_PAY, WAIT_SELLER_SEND, WAIT_BUYER_CONFIRM)

DAY_S = 86_400
PAY_TIMEOUT_DEFAULT_S = DAY_S
CONFIRM_TIMEOUT_DEFAULT_S = 7 * DAY_S
TIMEOUT_MIN_S = 60
TIMEOUT_MAX_S = 90 * DAY_S
REF_MAX_LEN = 200
SWEEP_BATCH_MAX = 500
LIST_MAX = 200


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: the buyer (user id), the merchant (partner id) or an operator (id 0)."""

    kind: Literal["buyer", "merchant", "admin"]
    id: int = 0

    @property
    def tag(self) -> str:
        return f"{self.kind}:{self.id}"


ADMIN = Actor("admin")


def now_of(ledger: LedgerService) -> int:
    """Escrow and hold times follow the ledger's clock (so tests drive timeouts with a manual clock)."""
    return ledger.clock.now_ns()


def require_merchant(conn: Connection, partner_id: int) -> None:
    partner = get_partner(conn, partner_id)
    if partner is None:
        raise NotFoundError(f"no partner {partner_id}")
    if partner.kind != "merchant":
        raise ForbiddenError(f"partner {partner_id} is a {partner.kind}, not a merchant")


def check_timeout(name: str, seconds: int) -> int:
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int)
        or not TIMEOUT_MIN_S <= seconds <= TIMEOUT_MAX_S
    ):
        raise InvalidAmountError(f"{name} must be {TIMEOUT_MIN_S}–{TIMEOUT_MAX_S} seconds")
    return seconds


def check_ref(ref: str) -> str:
    if not isinstance(ref, str) or not 0 < len(ref.strip()) <= REF_MAX_LEN or ref != ref.strip():
        raise InvalidAmountError(f"ref must be 1–{REF_MAX_LEN} characters without surrounding spaces")
    return ref


def trade_dict(row: Any) -> Trade:
    return {
        "trade_id": row.trade_id,
        "partner_id": row.partner_id,
        "trade_ref": row.trade_ref,
        "buyer_user_id": row.buyer_user_id,
        "currency": row.currency,
        "amount": row.amount,
        "state": row.state,
        "pay_deadline_ns": row.pay_deadline_ns,
        "confirm_timeout_s": row.confirm_timeout_s,
        "confirm_deadline_ns": row.confirm_deadline_ns,
        "close_reason": row.close_reason,
        "created_at_ns": row.created_at_ns,
        "updated_at_ns": row.updated_at_ns,
    }


def _load(conn: Connection, trade_id: str) -> Any:
    return conn.execute(select(trades).where(trades.c.trade_id == trade_id)).first()


def _visible(conn: Connection, trade_id: str, actor: Actor) -> Any:
    """The trade if ``actor`` may see it (others get 404: a trade's existence is not leaked)."""
    row = _load(conn, trade_id) if isinstance(trade_id, str) else None
    if row is None:
        raise NotFoundError(f"no trade {trade_id}")
    if actor.kind == "merchant" and row.partner_id != actor.id:
        raise NotFoundError(f"no trade {trade_id}")
    if actor.kind == "buyer" and row.buyer_user_id not in (None, actor.id):
        raise NotFoundError(f"no trade {trade_id}")
    return row


def get_trade(conn: Connection, trade_id: str, *, actor: Actor = ADMIN) -> Trade:
    return trade_dict(_visible(conn, trade_id, actor))


def list_buyer_trades(conn: Connection, user_id: int, *, limit: int = 50) -> list[Trade]:
    rows = conn.execute(
        select(trades)
        .where(trades.c.buyer_user_id == user_id)
        .order_by(trades.c.created_at_ns.desc(), trades.c.trade_id)
        .limit(max(1, min(limit, LIST_MAX)))
    )
    return [trade_dict(r) for r in rows]


def _transition(
    conn: Connection,
    ledger: LedgerService,
    row: Any,
    new_state: str,
    *,
    allowed_from: tuple[str, ...],
    reason: str | None = None,
    **values: Any,
) -> Trade:
    """Guarded state change + outbox event; raises 409 when the trade is not in an allowed state or was
    changed concurrently. Returns the updated trade."""
    if row.state not in allowed_from:
        raise StateConflictError(f"trade {row.trade_id} is {row.state}; cannot move to {new_state}")
    now = now_of(ledger)
    changed = conn.execute(
        update(trades)
        .where(trades.c.trade_id == row.trade_id, trades.c.state == row.state)
        .values(state=new_state, updated_at_ns=now, close_reason=reason, **values)
    ).rowcount
    if changed != 1:
        raise StateConflictError(f"trade {row.trade_id} changed concurrently; cannot move to {new_state}")
    updated = _load(conn, row.trade_id)
    outbox.emit(
        conn,
        topic="escrow.state_changed",
        partner_id=row.partner_id,
        payload={
            "trade_id": row.trade_id,
            "trade_ref": row.trade_ref,
            "from_state": row.state,
            "to_state": new_state,
            "reason": reason,
            "buyer_user_id": updated.buyer_user_id,
            "amount": row.amount,
            "currency": row.currency,
            "at_ns": now,
        },
    )
    return trade_dict(updated)


def _settlement(row: Any) -> AccountRef:
    return AccountRef(AccountKind.MERCHANT_SETTLEMENT, row.partner_id, currency(row.currency))


# -- operations ----------------------------------------------------------------------------------------
def create_trade(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    partner_id: int,
    trade_ref: str,
    currency_code: str,
    amount: int,
    pay_timeout_s: int = PAY_TIMEOUT_DEFAULT_S,
    confirm_timeout_s: int = CONFIRM_TIMEOUT_DEFAULT_S,
) -> Trade:
    """The merchant opens a trade in ``WAIT_BUYER_PAY`` (no money moves yet)."""
    request = {
        "trade_ref": trade_ref,
        "currency": currency_code,
        "amount": amount,
        "pay_timeout_s": pay_timeout_s,
        "confirm_timeout_s": confirm_timeout_s,
    }
    scope = f"escrow.create:merchant:{partner_id}"
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        return cast(Trade, replay)
    require_merchant(conn, partner_id)
    cur = currency(currency_code)
    check_amount(amount)
    check_ref(trade_ref)
    check_timeout("pay_timeout_s", pay_timeout_s)
    check_timeout("confirm_timeout_s", confirm_timeout_s)
    now = now_of(ledger)
    trade_id = "tr_" + secrets.token_hex(12)
    try:
        with conn.begin_nested():
            conn.execute(
                insert(trades).values(
                    trade_id=trade_id,
                    partner_id=partner_id,
                    trade_ref=trade_ref,
                    buyer_user_id=None,
                    currency=cur.code,
                    amount=amount,
                    state=WAIT_BUYER_PAY,
                    pay_deadline_ns=now + pay_timeout_s * NS_PER_S,
                    confirm_timeout_s=confirm_timeout_s,
                    created_at_ns=now,
                    updated_at_ns=now,
                )
            )
    except IntegrityError as exc:
        raise DuplicateRefError(f"trade ref {trade_ref!r} is already used by this merchant") from exc
    return idem.complete(conn, scope, idempotency_key, trade_dict(_load(conn, trade_id)))


def pay(
    conn: Connection, ledger: LedgerService, *, idempotency_key: str, trade_id: str, user_id: int
) -> Trade:
    """The buyer pays: a pending transfer buyer → seller settlement holds the money."""
    scope = f"escrow.pay:buyer:{user_id}"
    replay = idem.claim(conn, scope, idempotency_key, {"trade_id": trade_id})
    if replay is not None:
        return cast(Trade, replay)
    if not user_exists(conn, user_id):
        raise NotFoundError(f"no user {user_id}")
    row = _visible(conn, trade_id, Actor("buyer", user_id))
    if row.state == WAIT_BUYER_PAY and now_of(ledger) >= row.pay_deadline_ns:
        raise StateConflictError(f"trade {trade_id}: the payment window has closed")
    cur = require_wallet(conn, user_id, row.currency)
    hold_id = transfer_id("escrow.hold", row.trade_id)
    answer = _transition(
        conn,
        ledger,
        row,
        WAIT_SELLER_SEND,
        allowed_from=(WAIT_BUYER_PAY,),
        buyer_user_id=user_id,
        hold_transfer_id=enc128(hold_id),
    )
    settlement = _settlement(row)
    ensure_accounts(conn, ledger, [settlement])
    submit(
        conn,
        ledger,
        [
            Transfer(
                id=hold_id,
                debit_account_id=user_account(user_id, cur).id,
                credit_account_id=settlement.id,
                amount=row.amount,
                ledger=cur.ledger,
                code=int(TransferKind.ESCROW_HOLD),
                flags=TransferFlags.PENDING,
            )
        ],
    )
    return idem.complete(conn, scope, idempotency_key, answer)


def mark_sent(
    conn: Connection, ledger: LedgerService, *, idempotency_key: str, trade_id: str, partner_id: int
) -> Trade:
    """The merchant has sent the goods: the buyer's confirm window starts."""
    scope = f"escrow.ship:merchant:{partner_id}"
    replay = idem.claim(conn, scope, idempotency_key, {"trade_id": trade_id})
    if replay is not None:
        return cast(Trade, replay)
    row = _visible(conn, trade_id, Actor("merchant", partner_id))
    answer = _transition(
        conn,
        ledger,
        row,
        WAIT_BUYER_CONFIRM,
        allowed_from=(WAIT_SELLER_SEND,),
        confirm_deadline_ns=now_of(ledger) + row.confirm_timeout_s * NS_PER_S,
    )
    return idem.complete(conn, scope, idempotency_key, answer)


def confirm(
    conn: Connection, ledger: LedgerService, *, idempotency_key: str, trade_id: str, user_id: int
) -> Trade:
    """The buyer confirms receipt: the held money is released (posted) to the seller."""
    scope = f"escrow.confirm:buyer:{user_id}"
    replay = idem.claim(conn, scope, idempotency_key, {"trade_id": trade_id})
    if replay is not None:
        return cast(Trade, replay)
    row = _visible(conn, trade_id, Actor("buyer", user_id))
    if row.buyer_user_id is None:
        raise StateConflictError(f"trade {trade_id} is {row.state}; cannot move to {TRADE_FINISHED}")
    answer = _release(conn, ledger, row, reason="buyer_confirmed")
    return idem.complete(conn, scope, idempotency_key, answer)


def _release(conn: Connection, ledger: LedgerService, row: Any, *, reason: str) -> Trade:
    answer = _transition(conn, ledger, row, TRADE_FINISHED, allowed_from=(WAIT_BUYER_CONFIRM,), reason=reason)
    pending_id = dec128(row.hold_transfer_id)
    submit(
        conn,
        ledger,
        [
            Transfer(
                id=transfer_id("escrow.release", row.trade_id),
                pending_id=pending_id,
                amount=AMOUNT_MAX,
                flags=TransferFlags.POST_PENDING_TRANSFER,
            )
        ],
    )
    return answer


def cancel(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    trade_id: str,
    actor: Actor,
    reason: str = "cancelled",
) -> Trade:
    """Close a trade before release: unpaid → closed; paid → the hold is voided (refund) → closed."""
    scope = f"escrow.cancel:{actor.tag}"
    replay = idem.claim(conn, scope, idempotency_key, {"trade_id": trade_id, "reason": reason})
    if replay is not None:
        return cast(Trade, replay)
    if not isinstance(reason, str) or not 0 < len(reason) <= 32:
        raise InvalidAmountError("reason must be 1–32 characters")
    row = _visible(conn, trade_id, actor)
    allowed = (WAIT_SELLER_SEND,) if actor.kind == "buyer" else OPEN_STATES
    answer = _close(conn, ledger, row, allowed_from=allowed, reason=reason)
    return idem.complete(conn, scope, idempotency_key, answer)


def _close(
    conn: Connection, ledger: LedgerService, row: Any, *, allowed_from: tuple[str, ...], reason: str
) -> Trade:
    answer = _transition(conn, ledger, row, TRADE_CLOSED, allowed_from=allowed_from, reason=reason)
    if row.hold_transfer_id is not None:
        submit(
            conn,
            ledger,
            [
                Transfer(
                    id=transfer_id("escrow.refund", row.trade_id),
                    pending_id=dec128(row.hold_transfer_id),
                    flags=TransferFlags.VOID_PENDING_TRANSFER,
                )
            ],
        )
    return answer


def sweep_timeouts(conn: Connection, ledger: LedgerService, now_ns: int) -> int:
    """Close unpaid trades past their pay deadline and release trades past their confirm deadline (up
    to one batch); returns how many trades changed."""
    unpaid = conn.execute(
        select(trades)
        .where(trades.c.state == WAIT_BUYER_PAY, trades.c.pay_deadline_ns <= now_ns)
        .order_by(trades.c.pay_deadline_ns, trades.c.trade_id)
        .limit(SWEEP_BATCH_MAX)
    ).all()
    changed = 0
    for row in unpaid:
        changed += _guarded(
            conn, partial(_close, conn, ledger, row, allowed_from=(WAIT_BUYER_PAY,), reason="pay_timeout")
        )
    unconfirmed = conn.execute(
        select(trades)
        .where(trades.c.state == WAIT_BUYER_CONFIRM, trades.c.confirm_deadline_ns <= now_ns)
        .order_by(trades.c.confirm_deadline_ns, trades.c.trade_id)
        .limit(SWEEP_BATCH_MAX)
    ).all()
    for row in unconfirmed:
        changed += _guarded(conn, partial(_release, conn, ledger, row, reason="confirm_timeout"))
    return changed


def _guarded(conn: Connection, step: Callable[[], object]) -> int:
    """Run one sweep step in a savepoint: a trade changed concurrently (409) is skipped, not fatal."""
    try:
        with conn.begin_nested():
            step()
    except StateConflictError:
        return 0
    return 1
