"""Deposit holds (e.g. a car-share rental): reserve an amount of the user's wallet until an expiry, then
capture part or all of it (damage, fees) and release the rest — or release it all.

- **Consent.** A merchant's hold is a *request* (``requested``): no money moves until the user approves
  it (``approve``, before ``approve_by``) — the way a user confirms a merchant's order — or declines it.
  Or it takes effect at once under a standing **mandate** the user granted that merchant
  (``use_mandate``; :mod:`earnloop.wallet.holds.mandates`: limits, expiry, revocation). Operators (admin
  routes, the CLI) place holds directly: they are the operator. A capture never exceeds the amount the
  user approved (the hold's amount). A request not approved in time expires; the merchant may withdraw
  it (``release``).

- The amount comes from a **policy** (merchant product + currency, admin-managed) unless the user has a
  per-user **override**. A user whose credit is good enough (the policy's ``min_credit_score``, or a
  deposit-free score band) needs none: the caller's ``waiver`` decides (:mod:`.waivers`).
- Taking effect submits a pending transfer user → ``DEPOSITS`` with ``timeout`` = the expiry in seconds:
  the ledger releases it by itself when it expires (state ``expired`` once seen — by the worker's
  :func:`earnloop.wallet.holds.expiry.mark_expired`, or on read).
- ``capture`` posts ``amount ≤ held`` (a partial post releases the rest); ``release`` voids. After the
  expiry both answer 409 ``hold-expired``; more than held is 422 ``exceeds-hold``.
- Captured money sits in ``DEPOSITS`` awaiting settlement to the merchant (a later flow).
- Events, to the merchant: ``hold.approved`` (the user approved), ``hold.declined`` (``reason`` =
  ``declined`` | ``expired``: not approved in time), ``hold.captured``, ``hold.released`` (``reason`` =
  ``released`` | ``withdrawn`` | ``expired``).
"""

from __future__ import annotations

import secrets
from typing import Any, cast

from sqlalchemy import Connection, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from earnloop.auth.service import user_exists
from earnloop.currencies import currency
from earnloop.idempotency import service as idem
from earnloop.ledger.results import CreateTransferStatus
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import NS_PER_S, Transfer, TransferFlags, dec128, enc128
from earnloop.outbox import service as outbox
from earnloop.wallet.chart import AccountKind, TransferKind, transfer_id
from earnloop.wallet.errors import (
    InvalidAmountError,
    LedgerRejectedError,
    NotFoundError,
    StateConflictError,
)
from earnloop.wallet.escrow.service import (
    ADMIN,
    Actor,
    DuplicateRefError,
    ForbiddenError,
    check_ref,
    now_of,
    require_merchant,
)
from earnloop.wallet.holds import mandates, waivers
from earnloop.wallet.holds.errors import ExceedsHoldError, HoldExpiredError
from earnloop.wallet.holds.errors import HoldRequestExpiredError as HoldRequestExpiredError
from earnloop.wallet.holds.models import deposit_holds as holds

# The deposit policies and per-user overrides, part of the holds API (callers use ``holds.set_policy`` …).
from earnloop.wallet.holds.policies import CREDIT_SCORE_MAX as CREDIT_SCORE_MAX
from earnloop.wallet.holds.policies import PRODUCT_MAX_LEN as PRODUCT_MAX_LEN
from earnloop.wallet.holds.policies import check_product, min_credit_score
from earnloop.wallet.holds.policies import delete_override as delete_override
from earnloop.wallet.holds.policies import deposit_amount as deposit_amount
from earnloop.wallet.holds.policies import list_policies as list_policies
from earnloop.wallet.holds.policies import policy_dict as policy_dict
from earnloop.wallet.holds.policies import set_override as set_override
from earnloop.wallet.holds.policies import set_policy as set_policy
from earnloop.wallet.holds.schemas import Hold
from earnloop.wallet.ledger_ops import ensure_accounts, submit
from earnloop.wallet.service import REASON_MAX_LEN, check_amount, require_wallet, system_account, user_account

EXPIRY_MIN_S = 60
EXPIRY_MAX_S = 30 * 86_400
EXPIRY_DEFAULT_S = 3 * 86_400
APPROVE_WITHIN_MIN_S = 30
APPROVE_WITHIN_MAX_S = 86_400
APPROVE_WITHIN_DEFAULT_S = 15 * 60
SWEEP_BATCH_MAX = 500
LIST_MAX = 200


# -- holds ---------------------------------------------------------------------------------------------
def hold_dict(row: Any, now_ns: int | None = None) -> Hold:
    """A hold as callers see it; a ``held`` hold past its expiry shows as ``expired`` (it is, in the
    ledger, from that instant on)."""
    state = row.state
    if state == "held" and now_ns is not None and now_ns >= row.expires_at_ns:
        state = "expired"
    if state == "requested" and now_ns is not None and now_ns >= (row.approve_by_ns or 0):
        state = "expired"
    held = row.pending_transfer_id is not None
    return {
        "hold_id": row.hold_id,
        "partner_id": row.partner_id,
        "ref": row.ref,
        "user_id": row.user_id,
        "product": row.product,
        "currency": row.currency,
        "amount": row.amount,
        "amount_basis": row.amount_basis,
        "captured": row.captured,
        "released": row.amount - row.captured if held and state in ("captured", "released", "expired") else 0,
        "state": state,
        "approved_via": row.approved_via,
        "mandate_id": row.mandate_id,
        "approve_by_ns": row.approve_by_ns,
        "expires_in_s": row.expires_in_s,
        "expires_at_ns": row.expires_at_ns,
        "reason": row.reason,
        "credit_decision": waivers.decision_of(row.credit_decision),
        "created_at_ns": row.created_at_ns,
        "updated_at_ns": row.updated_at_ns,
    }


def load(conn: Connection, hold_id: str) -> Any:
    return conn.execute(select(holds).where(holds.c.hold_id == hold_id)).first()


def _visible(conn: Connection, hold_id: str, actor: Actor) -> Any:
    row = load(conn, hold_id) if isinstance(hold_id, str) else None
    if (
        row is None
        or (actor.kind == "merchant" and row.partner_id != actor.id)
        or (actor.kind == "buyer" and row.user_id != actor.id)
    ):
        raise NotFoundError(f"no hold {hold_id}")
    return row


def get_hold(conn: Connection, ledger: LedgerService, hold_id: str, *, actor: Actor = ADMIN) -> Hold:
    return hold_dict(_visible(conn, hold_id, actor), now_of(ledger))


def list_user_holds(conn: Connection, ledger: LedgerService, user_id: int, *, limit: int = 50) -> list[Hold]:
    rows = conn.execute(
        select(holds)
        .where(holds.c.user_id == user_id)
        .order_by(holds.c.created_at_ns.desc(), holds.c.hold_id)
        .limit(max(1, min(limit, LIST_MAX)))
    )
    now = now_of(ledger)
    return [hold_dict(r, now) for r in rows]


def _check_seconds(name: str, seconds: int, low: int, high: int) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not low <= seconds <= high:
        raise InvalidAmountError(f"{name} must be {low}–{high} seconds")


def place_hold(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    actor: Actor,
    product: str,
    user_id: int,
    currency_code: str,
    ref: str,
    expires_in_s: int = EXPIRY_DEFAULT_S,
) -> Hold:
    """Hold the policy's (or the user's override) deposit at once, without asking the user, until
    ``expires_in_s`` from now: for operators only (the admin routes and the CLI; ``actor`` is an operator,
    or the merchant an operator acts for). A merchant's own holds go through :func:`request_hold`."""
    if actor.kind == "buyer":
        raise ForbiddenError("a user cannot place a hold")
    request = {
        "product": product,
        "user_id": user_id,
        "currency": currency_code,
        "ref": ref,
        "expires_in_s": expires_in_s,
    }
    scope = f"hold.place:{actor.tag}"
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        return cast(Hold, replay)
    hold_id = _insert_request(conn, ledger, actor, request, approve_by_ns=None)
    _take_effect(conn, ledger, hold_id, via="operator")
    return idem.complete(conn, scope, idempotency_key, hold_dict(load(conn, hold_id), now_of(ledger)))


def request_hold(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    merchant_id: int,
    product: str,
    user_id: int,
    currency_code: str,
    ref: str,
    expires_in_s: int = EXPIRY_DEFAULT_S,
    approve_within_s: int = APPROVE_WITHIN_DEFAULT_S,
    use_mandate: bool = False,
    waiver: waivers.DepositWaiver | None = None,
) -> Hold:
    """A merchant asks to hold its product's deposit for ``expires_in_s`` from when the hold takes
    effect: when the user approves it (within ``approve_within_s``; until then nothing moves), or at
    once under the user's mandate to this merchant (``use_mandate``: refused without one with room).
    A ``waiver`` (the user's credit) may make it ``waived`` at once: nothing is ever held."""
    request = {
        "product": product,
        "user_id": user_id,
        "currency": currency_code,
        "ref": ref,
        "expires_in_s": expires_in_s,
        "approve_within_s": approve_within_s,
        "use_mandate": use_mandate,
    }
    scope = f"hold.request:m{merchant_id}"
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        return cast(Hold, replay)
    _check_seconds("approve_within_s", approve_within_s, APPROVE_WITHIN_MIN_S, APPROVE_WITHIN_MAX_S)
    now = now_of(ledger)
    approve_by_ns = now + approve_within_s * NS_PER_S
    hold_id = _insert_request(
        conn, ledger, Actor("merchant", merchant_id), request, approve_by_ns=approve_by_ns
    )
    row = load(conn, hold_id)
    if waiver is not None:
        floor = min_credit_score(conn, row.product, row.currency)
        decision = waiver(conn, user_id=user_id, min_credit_score=floor, now_ns=now)
        waivers.apply(conn, hold_id, decision, now)
        row = load(conn, hold_id)  # waived, or its amount reduced
    if use_mandate and row.state == "requested":
        mandate_id = mandates.reserve(
            conn,
            user_id=user_id,
            partner_id=merchant_id,
            currency_code=row.currency,
            amount=row.amount,
            now_ns=now,
        )
        _take_effect(conn, ledger, hold_id, via="mandate", mandate_id=mandate_id)
    return idem.complete(conn, scope, idempotency_key, hold_dict(load(conn, hold_id), now))


def _insert_request(
    conn: Connection, ledger: LedgerService, actor: Actor, ask: dict[str, Any], *, approve_by_ns: int | None
) -> str:
    """Check the ask (product, ref, expiry, user, wallet, policy) and store it as ``requested``."""
    product, user_id, ref, expires_in_s = ask["product"], ask["user_id"], ask["ref"], ask["expires_in_s"]
    check_product(product)
    check_ref(ref)
    _check_seconds("expires_in_s", expires_in_s, EXPIRY_MIN_S, EXPIRY_MAX_S)
    if actor.kind == "merchant":
        require_merchant(conn, actor.id)
    if not user_exists(conn, user_id):
        raise NotFoundError(f"no user {user_id}")
    cur = require_wallet(conn, user_id, ask["currency"])
    amount, basis, partner_id = deposit_amount(
        conn,
        product=product,
        currency_code=cur.code,
        user_id=user_id,
        partner_id=actor.id if actor.kind == "merchant" else None,
    )
    hold_id = "hd_" + secrets.token_hex(16)
    now = now_of(ledger)
    try:
        with conn.begin_nested():
            conn.execute(
                insert(holds).values(
                    hold_id=hold_id,
                    partner_id=partner_id,
                    ref=ref,
                    user_id=user_id,
                    product=product,
                    currency=cur.code,
                    amount=amount,
                    amount_basis=basis,
                    captured=0,
                    state="requested",
                    expires_in_s=expires_in_s,
                    approve_by_ns=approve_by_ns,
                    created_at_ns=now,
                    updated_at_ns=now,
                )
            )
    except IntegrityError as exc:
        raise DuplicateRefError(f"hold ref {ref!r} is already used by partner {partner_id}") from exc
    return hold_id


def _take_effect(
    conn: Connection, ledger: LedgerService, hold_id: str, *, via: str, mandate_id: str | None = None
) -> None:
    """``requested`` → ``held`` (guarded, before any ledger write), then the pending transfer."""
    now = now_of(ledger)
    pending_id = transfer_id("hold.place", hold_id)
    changed = conn.execute(
        update(holds)
        .where(
            holds.c.hold_id == hold_id,
            holds.c.state == "requested",
            or_(holds.c.approve_by_ns.is_(None), holds.c.approve_by_ns > now),  # None: an operator's
        )
        .values(
            state="held",
            approved_via=via,
            mandate_id=mandate_id,
            pending_transfer_id=enc128(pending_id),
            updated_at_ns=now,
        )
    ).rowcount
    row = load(conn, hold_id)
    if changed != 1:
        if row.state == "requested":
            raise HoldRequestExpiredError(f"hold {hold_id} was not approved in time")
        raise StateConflictError(f"hold {hold_id} is {row.state}")
    cur = currency(row.currency)
    deposits = system_account(AccountKind.DEPOSITS, cur)
    ensure_accounts(conn, ledger, [deposits])
    pending = Transfer(
        id=pending_id,
        debit_account_id=user_account(row.user_id, cur).id,
        credit_account_id=deposits.id,
        amount=row.amount,
        ledger=cur.ledger,
        code=int(TransferKind.DEPOSIT_HOLD),
        flags=TransferFlags.PENDING,
        timeout=row.expires_in_s,
    )
    submit(conn, ledger, [pending])
    (placed,) = ledger.lookup_transfers(conn, [pending_id])
    # exactly when the ledger expires it: the pending transfer's timestamp + timeout
    conn.execute(
        update(holds)
        .where(holds.c.hold_id == hold_id)
        .values(expires_at_ns=placed.timestamp + row.expires_in_s * NS_PER_S)
    )


def approve(
    conn: Connection, ledger: LedgerService, *, idempotency_key: str, hold_id: str, user_id: int
) -> Hold:
    """The user approves a merchant's hold request: its deposit is held from now on."""
    scope = f"hold.approve:u{user_id}"
    replay = idem.claim(conn, scope, idempotency_key, {"hold_id": hold_id})
    if replay is not None:
        return cast(Hold, replay)
    row = _visible(conn, hold_id, Actor("buyer", user_id))
    _take_effect(conn, ledger, row.hold_id, via="user")
    now = now_of(ledger)
    answer = hold_dict(load(conn, row.hold_id), now)
    outbox.emit(conn, topic="hold.approved", partner_id=row.partner_id, payload={**answer, "at_ns": now})
    return idem.complete(conn, scope, idempotency_key, answer)


def decline(
    conn: Connection, ledger: LedgerService, *, idempotency_key: str, hold_id: str, user_id: int
) -> Hold:
    """The user declines a merchant's hold request (nothing was held; nothing will be)."""
    scope = f"hold.decline:u{user_id}"
    replay = idem.claim(conn, scope, idempotency_key, {"hold_id": hold_id})
    if replay is not None:
        return cast(Hold, replay)
    row = _visible(conn, hold_id, Actor("buyer", user_id))
    now = now_of(ledger)
    changed = conn.execute(
        update(holds)
        .where(holds.c.hold_id == row.hold_id, holds.c.state == "requested")
        .values(state="declined", reason="declined", updated_at_ns=now)
    ).rowcount
    if changed != 1:
        raise StateConflictError(f"hold {hold_id} is {row.state}")
    answer = hold_dict(load(conn, row.hold_id), now)
    outbox.emit(conn, topic="hold.declined", partner_id=row.partner_id, payload={**answer, "at_ns": now})
    return idem.complete(conn, scope, idempotency_key, answer)


def _resolve(conn: Connection, ledger: LedgerService, transfer: Transfer, hold_id: str) -> None:
    """Post or void the pending transfer; the ledger saying "expired" becomes a 409."""
    try:
        submit(conn, ledger, [transfer])
    except LedgerRejectedError as exc:
        if str(exc) == CreateTransferStatus.PENDING_TRANSFER_EXPIRED.name.lower():
            raise HoldExpiredError(f"hold {hold_id} has expired; its money was released") from exc
        raise


def _finish(
    conn: Connection,
    ledger: LedgerService,
    row: Any,
    new_state: str,
    *,
    captured: int,
    reason: str,
    topic: str,
) -> Hold:
    if row.pending_transfer_id is None:  # nothing was ever held
        if row.state == "requested":
            raise StateConflictError(f"hold {row.hold_id} is requested: the user has not approved it")
        raise StateConflictError(f"hold {row.hold_id} is {row.state}: nothing was held")
    if row.state == "expired" or (row.state == "held" and now_of(ledger) >= row.expires_at_ns):
        raise HoldExpiredError(f"hold {row.hold_id} has expired; its money was released")
    if row.state != "held":
        raise StateConflictError(f"hold {row.hold_id} is {row.state}")
    now = now_of(ledger)
    changed = conn.execute(
        update(holds)
        .where(holds.c.hold_id == row.hold_id, holds.c.state == "held")
        .values(state=new_state, captured=captured, reason=reason, updated_at_ns=now)
    ).rowcount
    if changed != 1:
        raise StateConflictError(f"hold {row.hold_id} changed concurrently")
    answer = hold_dict(load(conn, row.hold_id), now)
    outbox.emit(conn, topic=topic, partner_id=row.partner_id, payload={**answer, "at_ns": now})
    return answer


def capture(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    hold_id: str,
    actor: Actor,
    amount: int,
    reason: str,
) -> Hold:
    """Charge ``amount`` (≤ held) of the deposit; the rest goes back to the user at once."""
    scope = f"hold.capture:{actor.tag}"
    request = {"hold_id": hold_id, "amount": amount, "reason": reason}
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        return cast(Hold, replay)
    row = _visible(conn, hold_id, actor)
    check_amount(amount)
    if not isinstance(reason, str) or not 0 < len(reason.strip()) <= REASON_MAX_LEN:
        raise InvalidAmountError(f"reason is required (1–{REASON_MAX_LEN} characters)")
    if amount > row.amount:
        raise ExceedsHoldError(f"capture of {amount} exceeds the {row.amount} held")
    answer = _finish(
        conn, ledger, row, "captured", captured=amount, reason=reason.strip(), topic="hold.captured"
    )
    post = Transfer(
        id=transfer_id("hold.capture", hold_id),
        pending_id=dec128(row.pending_transfer_id),
        amount=amount,
        flags=TransferFlags.POST_PENDING_TRANSFER,
    )
    _resolve(conn, ledger, post, hold_id)
    return idem.complete(conn, scope, idempotency_key, answer)


def release(
    conn: Connection, ledger: LedgerService, *, idempotency_key: str, hold_id: str, actor: Actor
) -> Hold:
    """Give the whole deposit back (void the pending transfer)."""
    scope = f"hold.release:{actor.tag}"
    replay = idem.claim(conn, scope, idempotency_key, {"hold_id": hold_id})
    if replay is not None:
        return cast(Hold, replay)
    row = _visible(conn, hold_id, actor)
    if row.state == "requested":
        return idem.complete(conn, scope, idempotency_key, _withdraw(conn, ledger, row))
    answer = _finish(conn, ledger, row, "released", captured=0, reason="released", topic="hold.released")
    void = Transfer(
        id=transfer_id("hold.release", hold_id),
        pending_id=dec128(row.pending_transfer_id),
        flags=TransferFlags.VOID_PENDING_TRANSFER,
    )
    _resolve(conn, ledger, void, hold_id)
    return idem.complete(conn, scope, idempotency_key, answer)


def _withdraw(conn: Connection, ledger: LedgerService, row: Any) -> Hold:
    """The merchant withdraws a request the user has not approved (nothing was held)."""
    now = now_of(ledger)
    changed = conn.execute(
        update(holds)
        .where(holds.c.hold_id == row.hold_id, holds.c.state == "requested")
        .values(state="released", reason="withdrawn", updated_at_ns=now)
    ).rowcount
    if changed != 1:
        raise StateConflictError(f"hold {row.hold_id} changed concurrently")
    answer = hold_dict(load(conn, row.hold_id), now)
    outbox.emit(conn, topic="hold.released", partner_id=row.partner_id, payload={**answer, "at_ns": now})
    return answer
