"""The validation rules of TigerBeetle 0.17, one function per check list, in TigerBeetle's order.

Each function returns the first failing status (or ``None`` / the amount to move when all pass). The
numbered comments follow docs/notes/tigerbeetle-semantics.md §4–§7. Deliberate differences (ADR 0002):
the ``imported`` flag is refused as ``reserved_flag``, and balances overflow at 2**63-1, not 2**128-1.
"""

from __future__ import annotations

from earnloop.ledger.results import CreateAccountStatus, CreateTransferStatus
from earnloop.ledger.types import (
    AMOUNT_MAX,
    BALANCE_MAX,
    NS_PER_S,
    STATUS_EXPIRED,
    STATUS_POSTED,
    STATUS_VOIDED,
    U128_MAX,
    Account,
    AccountFlags,
    PendingInfo,
    Transfer,
    TransferFlags,
)

A = CreateAccountStatus
S = CreateTransferStatus
TIMESTAMP_MAX = (1 << 63) - 1
_ACCOUNT_FLAGS_SUPPORTED = int(
    AccountFlags.LINKED
    | AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
    | AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
    | AccountFlags.HISTORY
    | AccountFlags.CLOSED
)
_TRANSFER_FLAGS_SUPPORTED = int(
    TransferFlags.LINKED
    | TransferFlags.PENDING
    | TransferFlags.POST_PENDING_TRANSFER
    | TransferFlags.VOID_PENDING_TRANSFER
    | TransferFlags.BALANCING_DEBIT
    | TransferFlags.BALANCING_CREDIT
    | TransferFlags.CLOSING_DEBIT
    | TransferFlags.CLOSING_CREDIT
)
_POST = int(TransferFlags.POST_PENDING_TRANSFER)
_VOID = int(TransferFlags.VOID_PENDING_TRANSFER)
_PENDING = int(TransferFlags.PENDING)
_BALANCING_DEBIT = int(TransferFlags.BALANCING_DEBIT)
_BALANCING_CREDIT = int(TransferFlags.BALANCING_CREDIT)
_CLOSING = int(TransferFlags.CLOSING_DEBIT | TransferFlags.CLOSING_CREDIT)
_DMNEC = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CMNED = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
_CLOSED = int(AccountFlags.CLOSED)


# -- accounts (§4) ----------------------------------------------------------------------------------
def check_account(a: Account, existing: Account | None) -> CreateAccountStatus | None:
    """``None`` when the account may be created; ``EXISTS``/``EXISTS_WITH_*`` for a known id."""
    if a.reserved != 0:
        return A.RESERVED_FIELD
    if a.flags & ~_ACCOUNT_FLAGS_SUPPORTED:
        return A.RESERVED_FLAG
    if a.id == 0:
        return A.ID_MUST_NOT_BE_ZERO
    if a.id == U128_MAX:
        return A.ID_MUST_NOT_BE_INT_MAX
    if existing is not None:
        return check_account_exists(a, existing)
    if a.flags & _DMNEC and a.flags & _CMNED:
        return A.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    for value, status in (
        (a.debits_pending, A.DEBITS_PENDING_MUST_BE_ZERO),
        (a.debits_posted, A.DEBITS_POSTED_MUST_BE_ZERO),
        (a.credits_pending, A.CREDITS_PENDING_MUST_BE_ZERO),
        (a.credits_posted, A.CREDITS_POSTED_MUST_BE_ZERO),
    ):
        if value != 0:
            return status
    if a.ledger == 0:
        return A.LEDGER_MUST_NOT_BE_ZERO
    if a.code == 0:
        return A.CODE_MUST_NOT_BE_ZERO
    return None


def check_account_exists(a: Account, e: Account) -> CreateAccountStatus:
    if a.flags != e.flags:
        return A.EXISTS_WITH_DIFFERENT_FLAGS
    if a.user_data_128 != e.user_data_128:
        return A.EXISTS_WITH_DIFFERENT_USER_DATA_128
    if a.user_data_64 != e.user_data_64:
        return A.EXISTS_WITH_DIFFERENT_USER_DATA_64
    if a.user_data_32 != e.user_data_32:
        return A.EXISTS_WITH_DIFFERENT_USER_DATA_32
    if a.ledger != e.ledger:
        return A.EXISTS_WITH_DIFFERENT_LEDGER
    if a.code != e.code:
        return A.EXISTS_WITH_DIFFERENT_CODE
    return A.EXISTS


# -- transfers (§5, §6) -----------------------------------------------------------------------------
def check_transfer_header(t: Transfer) -> CreateTransferStatus | None:
    """Steps 1–3, which run before the duplicate-id comparison."""
    if t.flags & ~_TRANSFER_FLAGS_SUPPORTED:
        return S.RESERVED_FLAG
    if t.id == 0:
        return S.ID_MUST_NOT_BE_ZERO
    if t.id == U128_MAX:
        return S.ID_MUST_NOT_BE_INT_MAX
    return None


def check_transfer_exists(t: Transfer, e: Transfer, p: Transfer | None) -> CreateTransferStatus:
    """Compare a re-sent transfer with the stored one (``p``: the pending transfer of a post/void)."""
    if t.flags != e.flags:
        return S.EXISTS_WITH_DIFFERENT_FLAGS
    if t.pending_id != e.pending_id:
        return S.EXISTS_WITH_DIFFERENT_PENDING_ID
    if t.timeout != e.timeout:
        return S.EXISTS_WITH_DIFFERENT_TIMEOUT
    if t.flags & (_POST | _VOID):
        assert p is not None, "a stored post/void always has its pending transfer"
        return _check_post_or_void_exists(t, e, p)
    if t.debit_account_id != e.debit_account_id:
        return S.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID
    if t.credit_account_id != e.credit_account_id:
        return S.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID
    if t.flags & (_BALANCING_DEBIT | _BALANCING_CREDIT):
        if t.amount < e.amount:
            return S.EXISTS_WITH_DIFFERENT_AMOUNT
    elif t.amount != e.amount:
        return S.EXISTS_WITH_DIFFERENT_AMOUNT
    return _check_exists_tail(t, e, t.user_data_128, t.user_data_64, t.user_data_32)


def _check_post_or_void_exists(t: Transfer, e: Transfer, p: Transfer) -> CreateTransferStatus:
    if t.debit_account_id and t.debit_account_id != e.debit_account_id:
        return S.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID
    if t.credit_account_id and t.credit_account_id != e.credit_account_id:
        return S.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID
    sentinel = 0 if t.flags & _VOID else AMOUNT_MAX
    if (e.amount != p.amount) if t.amount == sentinel else (t.amount != e.amount):
        return S.EXISTS_WITH_DIFFERENT_AMOUNT
    return _check_exists_tail(
        t,
        e,
        t.user_data_128 or p.user_data_128,
        t.user_data_64 or p.user_data_64,
        t.user_data_32 or p.user_data_32,
        ledger_code_optional=True,
    )


def _check_exists_tail(
    t: Transfer, e: Transfer, ud128: int, ud64: int, ud32: int, *, ledger_code_optional: bool = False
) -> CreateTransferStatus:
    if ud128 != e.user_data_128:
        return S.EXISTS_WITH_DIFFERENT_USER_DATA_128
    if ud64 != e.user_data_64:
        return S.EXISTS_WITH_DIFFERENT_USER_DATA_64
    if ud32 != e.user_data_32:
        return S.EXISTS_WITH_DIFFERENT_USER_DATA_32
    if (t.ledger or not ledger_code_optional) and t.ledger != e.ledger:
        return S.EXISTS_WITH_DIFFERENT_LEDGER
    if (t.code or not ledger_code_optional) and t.code != e.code:
        return S.EXISTS_WITH_DIFFERENT_CODE
    return S.EXISTS


def check_new_transfer(t: Transfer, accounts: dict[int, Account], ts: int) -> CreateTransferStatus | int:
    """Steps 6–30 for a transfer that is neither post nor void: the status, or the amount to move."""
    status = _check_transfer_fields(t)
    if status is not None:
        return status
    dr = accounts.get(t.debit_account_id)
    if dr is None:
        return S.DEBIT_ACCOUNT_NOT_FOUND
    cr = accounts.get(t.credit_account_id)
    if cr is None:
        return S.CREDIT_ACCOUNT_NOT_FOUND
    if dr.ledger != cr.ledger:
        return S.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER
    if t.ledger != dr.ledger:
        return S.TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS
    if dr.flags & _CLOSED:
        return S.DEBIT_ACCOUNT_ALREADY_CLOSED
    if cr.flags & _CLOSED:
        return S.CREDIT_ACCOUNT_ALREADY_CLOSED
    amount = balancing_amount(t, dr, cr)
    status = _check_overflows(t, dr, cr, amount, ts)
    if status is not None:
        return status
    if dr.flags & _DMNEC and dr.debits_pending + dr.debits_posted + amount > dr.credits_posted:
        return S.EXCEEDS_CREDITS
    if cr.flags & _CMNED and cr.credits_pending + cr.credits_posted + amount > cr.debits_posted:
        return S.EXCEEDS_DEBITS
    return amount


def _check_transfer_fields(t: Transfer) -> CreateTransferStatus | None:
    if t.debit_account_id == 0:
        return S.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
    if t.debit_account_id == U128_MAX:
        return S.DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX
    if t.credit_account_id == 0:
        return S.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
    if t.credit_account_id == U128_MAX:
        return S.CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX
    if t.credit_account_id == t.debit_account_id:
        return S.ACCOUNTS_MUST_BE_DIFFERENT
    if t.pending_id != 0:
        return S.PENDING_ID_MUST_BE_ZERO
    if not t.flags & _PENDING:
        if t.timeout != 0:
            return S.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
        if t.flags & _CLOSING:
            return S.CLOSING_TRANSFER_MUST_BE_PENDING
    if t.ledger == 0:
        return S.LEDGER_MUST_NOT_BE_ZERO
    if t.code == 0:
        return S.CODE_MUST_NOT_BE_ZERO
    return None


def balancing_amount(t: Transfer, dr: Account, cr: Account) -> int:
    """TigerBeetle's clamp: at most what keeps the balancing side(s) from going negative."""
    amount = t.amount
    if t.flags & _BALANCING_DEBIT:
        amount = min(amount, max(0, dr.credits_posted - (dr.debits_posted + dr.debits_pending)))
    if t.flags & _BALANCING_CREDIT:
        amount = min(amount, max(0, cr.debits_posted - (cr.credits_posted + cr.credits_pending)))
    return amount


def _check_overflows(
    t: Transfer, dr: Account, cr: Account, amount: int, ts: int
) -> CreateTransferStatus | None:
    if t.flags & _PENDING:
        if amount + dr.debits_pending > BALANCE_MAX:
            return S.OVERFLOWS_DEBITS_PENDING
        if amount + cr.credits_pending > BALANCE_MAX:
            return S.OVERFLOWS_CREDITS_PENDING
    if amount + dr.debits_posted > BALANCE_MAX:
        return S.OVERFLOWS_DEBITS_POSTED
    if amount + cr.credits_posted > BALANCE_MAX:
        return S.OVERFLOWS_CREDITS_POSTED
    if amount + dr.debits_pending + dr.debits_posted > BALANCE_MAX:
        return S.OVERFLOWS_DEBITS
    if amount + cr.credits_pending + cr.credits_posted > BALANCE_MAX:
        return S.OVERFLOWS_CREDITS
    if ts + t.timeout * NS_PER_S > TIMESTAMP_MAX:
        return S.OVERFLOWS_TIMEOUT
    return None


# -- post / void (§7) -------------------------------------------------------------------------------
def check_post_or_void(
    t: Transfer, p: Transfer | None, info: PendingInfo | None, accounts: dict[int, Account], ts: int
) -> CreateTransferStatus | None:
    """Steps 1–24 of a post or void; ``p`` is the referenced transfer (``None`` when unknown)."""
    status = _check_post_or_void_fields(t)
    if status is not None:
        return status
    if p is None:
        return S.PENDING_TRANSFER_NOT_FOUND
    if not p.flags & _PENDING:
        return S.PENDING_TRANSFER_NOT_PENDING
    status = _check_matches_pending(t, p)
    if status is not None:
        return status
    assert info is not None, "every pending transfer has a status row"
    if info.status == STATUS_POSTED:
        return S.PENDING_TRANSFER_ALREADY_POSTED
    if info.status == STATUS_VOIDED:
        return S.PENDING_TRANSFER_ALREADY_VOIDED
    if info.status == STATUS_EXPIRED:
        return S.PENDING_TRANSFER_EXPIRED
    if p.timeout > 0 and p.timestamp + p.timeout * NS_PER_S <= ts:
        return S.PENDING_TRANSFER_EXPIRED
    if not t.flags & _VOID:
        if accounts[p.debit_account_id].flags & _CLOSED:
            return S.DEBIT_ACCOUNT_ALREADY_CLOSED
        if accounts[p.credit_account_id].flags & _CLOSED:
            return S.CREDIT_ACCOUNT_ALREADY_CLOSED
    return None


def _check_post_or_void_fields(t: Transfer) -> CreateTransferStatus | None:
    flags = t.flags
    if flags & _POST and flags & _VOID:
        return S.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    if flags & (_PENDING | _BALANCING_DEBIT | _BALANCING_CREDIT | _CLOSING):
        return S.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    if t.pending_id == 0:
        return S.PENDING_ID_MUST_NOT_BE_ZERO
    if t.pending_id == U128_MAX:
        return S.PENDING_ID_MUST_NOT_BE_INT_MAX
    if t.pending_id == t.id:
        return S.PENDING_ID_MUST_BE_DIFFERENT
    if t.timeout != 0:
        return S.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
    return None


def _check_matches_pending(t: Transfer, p: Transfer) -> CreateTransferStatus | None:
    if t.debit_account_id and t.debit_account_id != p.debit_account_id:
        return S.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID
    if t.credit_account_id and t.credit_account_id != p.credit_account_id:
        return S.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID
    if t.ledger and t.ledger != p.ledger:
        return S.PENDING_TRANSFER_HAS_DIFFERENT_LEDGER
    if t.code and t.code != p.code:
        return S.PENDING_TRANSFER_HAS_DIFFERENT_CODE
    amount = pending_amount_to_apply(t, p)
    if amount > p.amount:
        return S.EXCEEDS_PENDING_TRANSFER_AMOUNT
    if t.flags & _VOID and amount < p.amount:
        return S.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT
    return None


def pending_amount_to_apply(t: Transfer, p: Transfer) -> int:
    """Void: 0 means the whole pending amount. Post: AMOUNT_MAX means the whole pending amount."""
    if t.flags & _VOID:
        return p.amount if t.amount == 0 else t.amount
    return p.amount if t.amount == AMOUNT_MAX else t.amount
