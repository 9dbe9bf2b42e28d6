"""TigerBeetle 0.17 semantics as a table of scenarios (docs/notes/tigerbeetle-semantics.md §3–§9).

Each case creates some accounts, runs optional setup batches (each must give the statuses it names),
optionally moves the clock, then submits one batch and checks: the status of every event, which of the
batch's ids exist afterwards (failed events leave nothing behind), the balances of the accounts it
names, the ``closed`` flags, and selected fields of stored transfers. Every case runs on SQLite and
PostgreSQL.

Balances are written ``(debits_pending, debits_posted, credits_pending, credits_posted)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import (
    AMOUNT_MAX,
    BALANCE_MAX,
    NS_PER_S,
    U32_MAX,
    U128_MAX,
    Account,
    AccountFlags,
    Transfer,
    TransferFlags,
)

# -- flags ------------------------------------------------------------------------------------------
LINKED = int(TransferFlags.LINKED)
PENDING = int(TransferFlags.PENDING)
POST = int(TransferFlags.POST_PENDING_TRANSFER)
VOID = int(TransferFlags.VOID_PENDING_TRANSFER)
BAL_DR = int(TransferFlags.BALANCING_DEBIT)
BAL_CR = int(TransferFlags.BALANCING_CREDIT)
CLOSE_DR = int(TransferFlags.CLOSING_DEBIT)
CLOSE_CR = int(TransferFlags.CLOSING_CREDIT)
T_IMPORTED = int(TransferFlags.IMPORTED)
T_PADDING = 1 << 9

A_LINKED = int(AccountFlags.LINKED)
DMNEC = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
CMNED = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
HISTORY = int(AccountFlags.HISTORY)
A_IMPORTED = int(AccountFlags.IMPORTED)
CLOSED = int(AccountFlags.CLOSED)
A_PADDING = 1 << 6

Balances = tuple[int, int, int, int]
ZERO: Balances = (0, 0, 0, 0)


# -- builders ---------------------------------------------------------------------------------------
def acct(id_: int, *, ledger: int = 1, code: int = 1, flags: int = 0, **fields: int) -> Account:
    return Account(id=id_, ledger=ledger, code=code, flags=flags, **fields)


def tr(
    id_: int,
    dr: int = 1,
    cr: int = 2,
    amount: int = 10,
    *,
    ledger: int = 1,
    code: int = 1,
    flags: int = 0,
    **f: int,
) -> Transfer:
    """A plain (single-phase) transfer; ``flags`` adds to it."""
    return Transfer(
        id=id_,
        debit_account_id=dr,
        credit_account_id=cr,
        amount=amount,
        ledger=ledger,
        code=code,
        flags=flags,
        **f,
    )


def pend(id_: int, dr: int = 1, cr: int = 2, amount: int = 30, *, flags: int = 0, **f: int) -> Transfer:
    return tr(id_, dr, cr, amount, flags=PENDING | flags, **f)


def post(id_: int, pending_id: int, amount: int = AMOUNT_MAX, *, flags: int = 0, **f: int) -> Transfer:
    """Post (``AMOUNT_MAX`` = the whole pending amount); ids, ledger and code default to 0 (inherit)."""
    return Transfer(id=id_, pending_id=pending_id, amount=amount, flags=POST | flags, **f)


def void(id_: int, pending_id: int, amount: int = 0, *, flags: int = 0, **f: int) -> Transfer:
    """Void (``0`` = the whole pending amount)."""
    return Transfer(id=id_, pending_id=pending_id, amount=amount, flags=VOID | flags, **f)


def linked(event: Transfer) -> Transfer:
    return replace(event, flags=event.flags | LINKED)


def alinked(event: Account) -> Account:
    return replace(event, flags=event.flags | A_LINKED)


@dataclass(frozen=True)
class Step:
    """A setup batch and the statuses it must give (``None``: every event is created)."""

    events: tuple[Transfer, ...]
    expect: str | None = None


def ok(*events: Transfer) -> Step:
    return Step(events)


def step(*events: Transfer, expect: str) -> Step:
    return Step(events, expect)


# Accounts 1, 2, 4, 5 share ledger 1; account 3 is on ledger 2. Account 5 is the usual funding source.
STD = (acct(1), acct(2), acct(3, ledger=2), acct(4), acct(5))


@dataclass(frozen=True)
class Case:
    id: str
    batch: tuple[Transfer, ...] | tuple[Account, ...]
    expect: str  # space-separated status names, one per event
    accounts: tuple[Account, ...] = STD
    setup: tuple[Step, ...] = ()
    advance_s: int = 0
    # (pending id, offset ns): set the clock to that transfer's expires_at + offset before the batch
    clock_at_expiry: tuple[int, int] | None = None
    balances: dict[int, Balances] = field(default_factory=dict)
    closed: tuple[int, ...] | None = None  # exactly these accounts are closed afterwards
    stored: dict[int, dict[str, int]] = field(default_factory=dict)  # transfer id -> fields


def fund(id_: int, account: int, amount: int, source: int = 5) -> Transfer:
    return tr(id_, source, account, amount)


# -- accounts (§4) ----------------------------------------------------------------------------------
ACCOUNT_CASES = [
    Case(
        "account/created_with_user_data_and_flags",
        (acct(10, flags=HISTORY | DMNEC, user_data_128=1, user_data_64=2, user_data_32=3),),
        "created",
        balances={10: ZERO},
    ),
    Case(
        "account/timestamp_must_be_zero_before_everything",
        (Account(id=0, ledger=0, code=0, reserved=1, flags=A_PADDING, timestamp=5),),
        "timestamp_must_be_zero",
    ),
    Case(
        "account/reserved_field_before_reserved_flag_and_id",
        (Account(id=0, ledger=0, code=0, reserved=1, flags=A_PADDING),),
        "reserved_field",
    ),
    Case(
        "account/reserved_flag_padding_before_id",
        (Account(id=0, ledger=0, code=0, flags=A_PADDING),),
        "reserved_flag",
    ),
    Case("account/imported_flag_is_refused_as_reserved_flag", (acct(10, flags=A_IMPORTED),), "reserved_flag"),
    Case(
        "account/id_zero_before_balances_and_ledger",
        (Account(id=0, ledger=0, code=0, debits_pending=1),),
        "id_must_not_be_zero",
    ),
    Case("account/id_int_max", (Account(id=U128_MAX, ledger=0, code=0),), "id_must_not_be_int_max"),
    Case(
        "account/limit_flags_mutually_exclusive_before_balances",
        (acct(10, ledger=0, flags=DMNEC | CMNED, debits_pending=1),),
        "flags_are_mutually_exclusive",
    ),
    Case(
        "account/balances_must_be_zero_in_field_order",
        (
            acct(10, debits_pending=1, debits_posted=1, credits_pending=1, credits_posted=1),
            acct(11, debits_posted=1, credits_pending=1, ledger=0),
            acct(12, credits_pending=1, credits_posted=1, code=0),
            acct(13, credits_posted=1, ledger=0),
        ),
        "debits_pending_must_be_zero debits_posted_must_be_zero credits_pending_must_be_zero "
        "credits_posted_must_be_zero",
    ),
    Case(
        "account/ledger_then_code_must_not_be_zero",
        (acct(10, ledger=0, code=0), acct(11, code=0)),
        "ledger_must_not_be_zero code_must_not_be_zero",
    ),
    Case("account/resend_is_exists", (acct(1),), "exists", balances={1: ZERO}),
    Case(
        "account/exists_compared_before_validation",
        (
            acct(1, debits_pending=5, credits_posted=7),
            acct(1, ledger=0),
            acct(1, flags=DMNEC | CMNED),
            acct(1, code=0),
        ),
        "exists exists_with_different_ledger exists_with_different_flags exists_with_different_code",
        balances={1: ZERO},
    ),
    Case(
        "account/exists_with_different_fields_in_order",
        (
            acct(6, flags=0, user_data_128=9),
            acct(6, flags=HISTORY, user_data_128=9, user_data_64=9),
            acct(6, flags=HISTORY, user_data_128=1, user_data_64=9, user_data_32=9),
            acct(6, flags=HISTORY, user_data_128=1, user_data_64=2, user_data_32=9, ledger=2),
            acct(6, flags=HISTORY, user_data_128=1, user_data_64=2, user_data_32=3, ledger=2, code=9),
            acct(6, flags=HISTORY, user_data_128=1, user_data_64=2, user_data_32=3, code=9),
            acct(6, flags=HISTORY, user_data_128=1, user_data_64=2, user_data_32=3, code=4),
        ),
        "exists_with_different_flags exists_with_different_user_data_128 exists_with_different_user_data_64 "
        "exists_with_different_user_data_32 exists_with_different_ledger exists_with_different_code exists",
        accounts=(*STD, acct(6, flags=HISTORY, user_data_128=1, user_data_64=2, user_data_32=3, code=4)),
    ),
    Case(
        "account/linked_flag_counts_in_exists_and_breaks_chain",
        (alinked(acct(1)), acct(10)),
        "exists_with_different_flags linked_event_failed",
    ),
    Case(
        "account/duplicates_in_one_batch",
        (acct(10), acct(10), acct(10, code=2)),
        "created exists exists_with_different_code",
    ),
    Case(
        "account/linked_chain_success",
        (alinked(acct(10)), alinked(acct(11, ledger=2)), acct(12)),
        "created created created",
    ),
    Case(
        "account/linked_chain_failure_creates_none_of_it",
        (alinked(acct(10)), alinked(acct(11, ledger=0)), acct(12), acct(13)),
        "linked_event_failed ledger_must_not_be_zero linked_event_failed created",
    ),
    Case(
        "account/chain_open_at_end",
        (acct(10), alinked(acct(11)), alinked(acct(12))),
        "created linked_event_failed linked_event_chain_open",
    ),
    Case(
        "account/duplicate_inside_chain_rolls_back_original",
        (alinked(acct(10)), alinked(acct(10)), acct(11)),
        "linked_event_failed exists linked_event_failed",
    ),
    Case("account/may_be_created_closed", (acct(10, flags=CLOSED),), "created", closed=(10,)),
    Case(
        "account/closed_bit_and_stored_linked_bit_count_in_exists",
        (acct(1), acct(1, flags=CLOSED), acct(6), alinked(acct(6)), acct(7)),
        "exists_with_different_flags exists exists_with_different_flags exists linked_event_failed",
        accounts=(*STD, alinked(acct(6)), acct(7)),
        setup=(ok(pend(100, 1, 2, 0, flags=CLOSE_DR)),),
        closed=(1,),
    ),
]

# -- create_transfer validation order (§5) ----------------------------------------------------------
VALIDATION_CASES = [
    Case(
        "transfer/created_moves_money",
        (tr(10, 1, 2, 25),),
        "created",
        balances={1: (0, 25, 0, 0), 2: (0, 0, 0, 25)},
    ),
    Case(
        "transfer/zero_amount_is_created",
        (tr(10, amount=0),),
        "created",
        balances={1: ZERO, 2: ZERO},
        stored={10: {"amount": 0}},
    ),
    Case(
        "transfer/amount_equal_to_balance_max_is_created",
        (tr(10, amount=BALANCE_MAX),),
        "created",
        balances={1: (0, BALANCE_MAX, 0, 0), 2: (0, 0, 0, BALANCE_MAX)},
    ),
    Case(
        "transfer/timestamp_must_be_zero_before_everything",
        (Transfer(id=0, flags=T_PADDING, timestamp=1),),
        "timestamp_must_be_zero",
    ),
    Case("transfer/reserved_flag_before_id", (Transfer(id=0, flags=T_PADDING),), "reserved_flag"),
    Case("transfer/imported_flag_is_refused_as_reserved_flag", (tr(10, flags=T_IMPORTED),), "reserved_flag"),
    Case("transfer/id_zero", (tr(0, 0, 0),), "id_must_not_be_zero"),
    Case("transfer/id_int_max", (tr(U128_MAX, 0, 0),), "id_must_not_be_int_max"),
    Case(
        "transfer/account_id_checks_in_order",
        (
            tr(10, 0, 0, ledger=0),
            tr(11, U128_MAX, 0),
            tr(12, 1, 0, ledger=0),
            tr(13, 1, U128_MAX, ledger=0),
            tr(14, 1, 1, pending_id=7),
        ),
        "debit_account_id_must_not_be_zero debit_account_id_must_not_be_int_max "
        "credit_account_id_must_not_be_zero credit_account_id_must_not_be_int_max accounts_must_be_different",
    ),
    Case(
        "transfer/pending_id_timeout_and_closing_checks_in_order",
        (
            tr(10, pending_id=7, timeout=5),
            tr(11, timeout=5, flags=CLOSE_DR, ledger=0),
            tr(12, flags=CLOSE_DR, ledger=0),
            tr(13, flags=CLOSE_CR),
        ),
        "pending_id_must_be_zero timeout_reserved_for_pending_transfer closing_transfer_must_be_pending "
        "closing_transfer_must_be_pending",
    ),
    Case(
        "transfer/ledger_then_code_before_account_lookup",
        (tr(10, 98, 99, ledger=0, code=0), tr(11, 98, 99, code=0)),
        "ledger_must_not_be_zero code_must_not_be_zero",
    ),
    Case(
        "transfer/accounts_not_found",
        (tr(10, 98, 99), tr(11, 1, 99, ledger=2)),
        "debit_account_not_found credit_account_not_found",
        balances={1: ZERO},
    ),
    Case(
        "transfer/ledger_mismatches",
        (tr(10, 1, 3, ledger=2), tr(11, 1, 2, ledger=2), tr(12, 3, 1, ledger=1)),
        "accounts_must_have_the_same_ledger transfer_must_have_the_same_ledger_as_accounts "
        "accounts_must_have_the_same_ledger",
    ),
    Case(
        "transfer/closed_accounts_before_overflow_and_after_ledger",
        (
            tr(10, 6, 2, 2**63),
            tr(11, 1, 6, AMOUNT_MAX),
            tr(12, 6, 7),
            tr(13, 2, 6, 0, flags=PENDING | CLOSE_DR),
        ),
        "debit_account_already_closed credit_account_already_closed accounts_must_have_the_same_ledger "
        "credit_account_already_closed",
        accounts=(*STD, acct(6, flags=CLOSED | DMNEC), acct(7, ledger=2, flags=CLOSED)),
        closed=(6, 7),
    ),
]

# -- overflows and limits (§5 steps 23–30) ----------------------------------------------------------
LIMIT_CASES = [
    Case(
        "overflow/debits_pending",
        (pend(10, 1, 4, 1),),
        "overflows_debits_pending",
        setup=(ok(pend(100, 1, 2, BALANCE_MAX)),),
        balances={1: (BALANCE_MAX, 0, 0, 0), 4: ZERO},
    ),
    Case(
        "overflow/credits_pending",
        (pend(10, 1, 2, 1),),
        "overflows_credits_pending",
        setup=(ok(pend(100, 4, 2, BALANCE_MAX)),),
        balances={1: ZERO, 2: (0, 0, BALANCE_MAX, 0)},
    ),
    Case(
        "overflow/debits_posted_is_checked_for_pending_too",
        (pend(10, 1, 4, 1),),
        "overflows_debits_posted",
        setup=(ok(tr(100, 1, 2, BALANCE_MAX)),),
        balances={1: (0, BALANCE_MAX, 0, 0), 4: ZERO},
    ),
    Case(
        "overflow/credits_posted",
        (tr(10, 1, 2, 1),),
        "overflows_credits_posted",
        setup=(ok(tr(100, 4, 2, BALANCE_MAX)),),
        balances={1: ZERO},
    ),
    Case(
        "overflow/debits_pending_plus_posted",
        (tr(10, 1, 5, 1),),
        "overflows_debits",
        setup=(ok(pend(100, 1, 2, 5), tr(101, 1, 4, BALANCE_MAX - 5)),),
        balances={1: (5, BALANCE_MAX - 5, 0, 0), 5: ZERO},
    ),
    Case(
        "overflow/credits_pending_plus_posted",
        (tr(10, 1, 2, 1),),
        "overflows_credits",
        setup=(ok(pend(100, 4, 2, 5), tr(101, 5, 2, BALANCE_MAX - 5)),),
        balances={1: ZERO, 2: (0, 0, 5, BALANCE_MAX - 5)},
    ),
    Case(
        "overflow/amounts_above_balance_max",
        (tr(10, amount=BALANCE_MAX + 1), pend(11, amount=2**64), tr(12, amount=AMOUNT_MAX)),
        "overflows_debits_posted overflows_debits_pending overflows_debits_posted",
        balances={1: ZERO, 2: ZERO},
    ),
    Case(
        "overflow/before_exceeds_credits_and_does_not_burn_the_id",
        (tr(10, 6, 2, 2**63), tr(10, 6, 2, 0)),
        "overflows_debits_posted created",
        accounts=(*STD, acct(6, flags=DMNEC)),
        balances={6: ZERO},
    ),
    Case(
        "overflow/timeout_past_max_timestamp",
        (pend(10, timeout=U32_MAX), pend(11, timeout=1)),
        "overflows_timeout created",
        advance_s=3_300_000_000,
        balances={1: (30, 0, 0, 0)},
    ),
    Case(
        "limit/exceeds_credits_counts_pending_debits",
        (tr(10, 6, 2, 41), tr(11, 6, 2, 40), tr(12, 6, 2, 0)),
        "exceeds_credits created created",
        accounts=(*STD, acct(6, flags=DMNEC)),
        setup=(ok(fund(100, 6, 100), pend(101, 6, 2, 60)),),
        balances={6: (60, 40, 0, 100)},
    ),
    Case(
        "limit/exceeds_debits_counts_pending_credits",
        (tr(10, 1, 6, 41), tr(11, 1, 6, 40)),
        "exceeds_debits created",
        accounts=(*STD, acct(6, flags=CMNED)),
        setup=(ok(tr(100, 6, 5, 100), pend(101, 1, 6, 60)),),
        balances={6: (0, 100, 60, 40)},
    ),
    Case(
        "limit/zero_amount_passes_on_empty_limited_account",
        (tr(10, 6, 2, 1), tr(11, 6, 2, 0), tr(12, 1, 7, 1), tr(13, 1, 7, 0)),
        "exceeds_credits created exceeds_debits created",
        accounts=(*STD, acct(6, flags=DMNEC), acct(7, flags=CMNED)),
        balances={6: ZERO, 7: ZERO},
    ),
    Case(
        "limit/exceeds_is_transient_and_burns_the_id",
        (tr(10, 6, 2, 1), fund(11, 6, 1), tr(10, 6, 2, 1), tr(12, 6, 2, 1)),
        "exceeds_credits created id_already_failed created",
        accounts=(*STD, acct(6, flags=DMNEC)),
        balances={6: (0, 1, 0, 1)},
    ),
]

# -- duplicate ids (§6) and burnt ids (§2.4) --------------------------------------------------------
EXISTS_CASES = [
    Case(
        "exists/resend_is_exists_and_moves_nothing",
        (tr(100, user_data_128=7),),
        "exists",
        setup=(ok(tr(100, user_data_128=7)),),
        balances={1: (0, 10, 0, 0), 2: (0, 0, 0, 10)},
    ),
    Case(
        "exists/compared_before_limits",
        (tr(101, 6, 2, 10),),
        "exists",
        accounts=(*STD, acct(6, flags=DMNEC)),
        setup=(ok(fund(100, 6, 10), tr(101, 6, 2, 10)),),
        balances={6: (0, 10, 0, 10)},
    ),
    Case(
        "exists/compared_before_validation",
        (tr(100, dr=0), tr(100, ledger=0), tr(100, flags=CLOSE_DR), tr(100, 1, 1)),
        "exists_with_different_debit_account_id exists_with_different_ledger exists_with_different_flags "
        "exists_with_different_credit_account_id",
        setup=(ok(tr(100)),),
        balances={1: (0, 10, 0, 0)},
    ),
    Case(
        "exists/different_flags_first_and_linked_bit_counts",
        (tr(100, 4, 5, 11, flags=PENDING), linked(tr(100)), tr(11)),
        "exists_with_different_flags exists_with_different_flags linked_event_failed",
        setup=(ok(tr(100)),),
        balances={1: (0, 10, 0, 0)},
    ),
    Case(
        "exists/pending_id_before_timeout_and_accounts",
        (tr(100, 4, 5, pending_id=5, timeout=3),),
        "exists_with_different_pending_id",
        setup=(ok(tr(100)),),
    ),
    Case(
        "exists/timeout_before_amount",
        (pend(100, amount=11, timeout=5),),
        "exists_with_different_timeout",
        setup=(ok(pend(100)),),
        balances={1: (30, 0, 0, 0)},
    ),
    Case(
        "exists/remaining_fields_in_order",
        (
            tr(100, 4, 5, user_data_128=1, user_data_64=2, user_data_32=3),
            tr(100, 1, 4, 11, user_data_128=1, user_data_64=2, user_data_32=3),
            tr(100, 1, 2, 11, user_data_128=9, user_data_64=2, user_data_32=3),
            tr(100, 1, 2, 10, user_data_128=9, user_data_64=9, user_data_32=3),
            tr(100, 1, 2, 10, user_data_128=1, user_data_64=9, user_data_32=9),
            tr(100, 1, 2, 10, user_data_128=1, user_data_64=2, user_data_32=9, ledger=2),
            tr(100, 1, 2, 10, user_data_128=1, user_data_64=2, user_data_32=3, ledger=2, code=2),
            tr(100, 1, 2, 10, user_data_128=1, user_data_64=2, user_data_32=3, code=2),
            tr(100, 1, 2, 10, user_data_128=1, user_data_64=2, user_data_32=3),
        ),
        "exists_with_different_debit_account_id exists_with_different_credit_account_id "
        "exists_with_different_amount exists_with_different_user_data_128 exists_with_different_user_data_64 "
        "exists_with_different_user_data_32 exists_with_different_ledger exists_with_different_code exists",
        setup=(ok(tr(100, 1, 2, 10, user_data_128=1, user_data_64=2, user_data_32=3)),),
        balances={1: (0, 10, 0, 0)},
    ),
    Case(
        "exists/balancing_resend_compares_the_upper_bound",
        (tr(101, 1, 2, 1000, flags=BAL_DR), tr(101, 1, 2, 30, flags=BAL_DR), tr(101, 1, 2, 29, flags=BAL_DR)),
        "exists exists exists_with_different_amount",
        setup=(ok(fund(100, 1, 30), tr(101, 1, 2, 1000, flags=BAL_DR)),),
        balances={1: (0, 30, 0, 30)},
        stored={101: {"amount": 30}},
    ),
    Case(
        "exists/duplicates_in_one_batch",
        (tr(10), tr(10), tr(10, amount=11)),
        "created exists exists_with_different_amount",
        balances={1: (0, 10, 0, 0), 2: (0, 0, 0, 10)},
    ),
    Case(
        "exists/post_resend_resolves_sentinels_and_inherited_fields",
        (
            post(101, 100),
            post(101, 100, 50),
            post(101, 100, 40),
            post(101, 100, debit_account_id=1, credit_account_id=2, ledger=1, code=1, user_data_128=7),
            post(101, 100, debit_account_id=4),
            post(101, 100, credit_account_id=4),
            post(101, 100, user_data_128=8),
            post(101, 100, ledger=2),
            post(101, 100, code=2),
            post(101, 100, timeout=1),
            post(101, 99),
        ),
        "exists exists exists_with_different_amount exists exists_with_different_debit_account_id "
        "exists_with_different_credit_account_id exists_with_different_user_data_128 "
        "exists_with_different_ledger exists_with_different_code exists_with_different_timeout "
        "exists_with_different_pending_id",
        setup=(ok(pend(100, amount=50, user_data_128=7)), ok(post(101, 100))),
        balances={1: (0, 50, 0, 0), 2: (0, 0, 0, 50)},
    ),
    Case(
        "exists/void_resend_uses_zero_as_whole_amount",
        (void(101, 100), void(101, 100, 50), void(101, 100, AMOUNT_MAX), void(101, 100, 1), post(101, 100)),
        "exists exists exists_with_different_amount exists_with_different_amount exists_with_different_flags",
        setup=(ok(pend(100, amount=50)), ok(void(101, 100))),
        balances={1: ZERO, 2: ZERO},
    ),
    Case(
        "burnt/id_already_failed_after_transient_failure",
        (tr(100), tr(101)),
        "id_already_failed created",
        setup=(step(tr(100, 98, 2), expect="debit_account_not_found"),),
        balances={1: (0, 10, 0, 0)},
    ),
    Case(
        "burnt/id_stays_failed_after_its_chain_rolled_back",
        (tr(101, 1, 2, 1), tr(100, 1, 2, 5), tr(102, 1, 2, 5)),
        "id_already_failed created created",
        accounts=(*STD, acct(6, flags=DMNEC)),
        setup=(
            step(
                linked(tr(100, 1, 2, 5)),
                linked(tr(101, 6, 2, 1)),
                tr(102, 1, 2, 5),
                expect="linked_event_failed exceeds_credits linked_event_failed",
            ),
        ),
        balances={1: (0, 10, 0, 0), 6: ZERO},
    ),
    Case(
        "burnt/id_is_unknown_as_pending_id",
        (pend(100), post(101, 100), tr(101)),
        "id_already_failed pending_transfer_not_found id_already_failed",
        setup=(step(post(100, 99), expect="pending_transfer_not_found"),),
        balances={1: ZERO},
    ),
    Case(
        "burnt/non_transient_failures_keep_the_id",
        (tr(100), tr(101), tr(102)),
        "created created created",
        setup=(
            step(tr(100, ledger=2), expect="transfer_must_have_the_same_ledger_as_accounts"),
            step(tr(101, amount=2**63), expect="overflows_debits_posted"),
            step(void(102, 6, flags=PENDING), expect="flags_are_mutually_exclusive"),
        ),
        balances={1: (0, 30, 0, 0)},
    ),
]

# -- two-phase: post and void (§7) -----------------------------------------------------------------
PENDING_30 = (ok(pend(100, 1, 2, 30)),)
STILL_PENDING = {1: (30, 0, 0, 0), 2: (0, 0, 30, 0)}

TWO_PHASE_CASES = [
    Case("two_phase/pending_reserves", (pend(10, 1, 2, 30),), "created", balances=STILL_PENDING),
    Case(
        "two_phase/post_whole_amount_with_amount_max",
        (post(10, 100),),
        "created",
        setup=PENDING_30,
        balances={1: (0, 30, 0, 0), 2: (0, 0, 0, 30)},
        stored={
            10: {"amount": 30, "debit_account_id": 1, "credit_account_id": 2, "ledger": 1, "pending_id": 100}
        },
    ),
    Case(
        "two_phase/partial_post_releases_the_whole_reservation",
        (post(10, 100, 12),),
        "created",
        setup=PENDING_30,
        balances={1: (0, 12, 0, 0), 2: (0, 0, 0, 12)},
        stored={10: {"amount": 12}},
    ),
    Case(
        "two_phase/post_zero_posts_nothing_and_releases",
        (post(10, 100, 0),),
        "created",
        setup=PENDING_30,
        balances={1: ZERO, 2: ZERO},
        stored={10: {"amount": 0}},
    ),
    Case(
        "two_phase/post_more_than_pending",
        (post(10, 100, 31), post(11, 100, AMOUNT_MAX - 1)),
        "exceeds_pending_transfer_amount exceeds_pending_transfer_amount",
        setup=PENDING_30,
        balances=STILL_PENDING,
    ),
    Case(
        "two_phase/void_with_zero_voids_the_whole_amount",
        (void(10, 100),),
        "created",
        setup=PENDING_30,
        balances={1: ZERO, 2: ZERO},
        stored={10: {"amount": 30, "pending_id": 100}},
    ),
    Case(
        "two_phase/void_with_the_exact_amount",
        (void(10, 100, 30),),
        "created",
        setup=PENDING_30,
        balances={1: ZERO, 2: ZERO},
    ),
    Case(
        "two_phase/void_with_another_amount_fails",
        (void(10, 100, 29), void(11, 100, 31), void(12, 100, AMOUNT_MAX)),
        "pending_transfer_has_different_amount exceeds_pending_transfer_amount "
        "exceeds_pending_transfer_amount",
        setup=PENDING_30,
        balances=STILL_PENDING,
    ),
    Case(
        "two_phase/post_inherits_fields_from_the_pending_transfer",
        (post(10, 100, user_data_64=1),),
        "created",
        setup=(ok(pend(100, 1, 2, 30, code=3, timeout=60, user_data_128=7, user_data_64=8, user_data_32=9)),),
        stored={
            10: {
                "code": 3,
                "ledger": 1,
                "timeout": 0,
                "user_data_128": 7,
                "user_data_64": 1,
                "user_data_32": 9,
            },
            100: {"timeout": 60, "amount": 30, "flags": PENDING},
        },
    ),
    Case(
        "two_phase/already_posted",
        (post(10, 100), void(11, 100)),
        "pending_transfer_already_posted pending_transfer_already_posted",
        setup=(*PENDING_30, ok(post(101, 100, 5))),
        balances={1: (0, 5, 0, 0)},
    ),
    Case(
        "two_phase/already_voided",
        (post(10, 100), void(11, 100)),
        "pending_transfer_already_voided pending_transfer_already_voided",
        setup=(*PENDING_30, ok(void(101, 100))),
        balances={1: ZERO},
    ),
    Case(
        "two_phase/resolves_once_within_a_batch",
        (post(10, 100), void(11, 100), post(12, 100)),
        "created pending_transfer_already_posted pending_transfer_already_posted",
        setup=PENDING_30,
        balances={1: (0, 30, 0, 0)},
    ),
    Case(
        "two_phase/flags_mutually_exclusive_before_pending_id",
        (
            post(10, 0, flags=VOID),
            post(11, 0, flags=PENDING),
            void(12, 0, flags=BAL_DR),
            void(13, 0, flags=BAL_CR),
            post(14, 0, flags=CLOSE_DR),
            void(15, 0, flags=CLOSE_CR),
        ),
        " ".join(["flags_are_mutually_exclusive"] * 6),
        setup=PENDING_30,
        balances=STILL_PENDING,
    ),
    Case(
        "two_phase/pending_id_and_timeout_checks_in_order",
        (
            post(10, 0, timeout=5),
            post(11, U128_MAX, timeout=5),
            void(12, 12, timeout=5),
            post(13, 100, timeout=5),
        ),
        "pending_id_must_not_be_zero pending_id_must_not_be_int_max pending_id_must_be_different "
        "timeout_reserved_for_pending_transfer",
        setup=PENDING_30,
        balances=STILL_PENDING,
    ),
    Case(
        "two_phase/pending_transfer_not_found_or_not_pending",
        (post(10, 99), void(11, 101)),
        "pending_transfer_not_found pending_transfer_not_pending",
        setup=(*PENDING_30, ok(tr(101, 4, 5, 1))),
        balances=STILL_PENDING,
    ),
    Case(
        "two_phase/must_match_the_pending_transfer_in_order",
        (
            post(10, 100, 31, debit_account_id=4, credit_account_id=5),
            post(11, 100, 31, credit_account_id=4, ledger=2),
            post(12, 100, 31, ledger=2, code=2),
            post(13, 100, 31, code=2),
            post(14, 100, 31, debit_account_id=1, credit_account_id=2, ledger=1, code=1),
            post(15, 100, 30, debit_account_id=1, credit_account_id=2, ledger=1, code=1),
        ),
        "pending_transfer_has_different_debit_account_id pending_transfer_has_different_credit_account_id "
        "pending_transfer_has_different_ledger pending_transfer_has_different_code "
        "exceeds_pending_transfer_amount created",
        setup=PENDING_30,
        balances={1: (0, 30, 0, 0)},
    ),
    Case(
        "two_phase/amount_checks_come_before_already_posted",
        (post(10, 100, 31), void(11, 100, 5), void(12, 100)),
        "exceeds_pending_transfer_amount pending_transfer_has_different_amount "
        "pending_transfer_already_posted",
        setup=(*PENDING_30, ok(post(101, 100))),
        balances={1: (0, 30, 0, 0)},
    ),
]

# -- expiry (§8) ------------------------------------------------------------------------------------
PENDING_1S = (ok(pend(100, 1, 2, 30, timeout=1)),)

EXPIRY_CASES = [
    Case(
        "expiry/post_after_timeout_fails_and_balances_are_released",
        (post(10, 100),),
        "pending_transfer_expired",
        setup=PENDING_1S,
        advance_s=2,
        balances={1: ZERO, 2: ZERO},
        stored={100: {"amount": 30, "flags": PENDING, "timeout": 1}},
    ),
    Case(
        "expiry/void_after_timeout_fails",
        (void(10, 100),),
        "pending_transfer_expired",
        setup=PENDING_1S,
        advance_s=2,
        balances={1: ZERO, 2: ZERO},
    ),
    Case(
        "expiry/expired_exactly_at_timestamp_plus_timeout",
        (post(10, 100),),
        "pending_transfer_expired",
        setup=PENDING_1S,
        clock_at_expiry=(100, 0),
        balances={1: ZERO, 2: ZERO},
    ),
    Case(
        "expiry/one_ns_before_expiry_post_succeeds",
        (post(10, 100),),
        "created",
        setup=PENDING_1S,
        clock_at_expiry=(100, -1),
        balances={1: (0, 30, 0, 0), 2: (0, 0, 0, 30)},
    ),
    Case(
        "expiry/timeout_zero_never_expires",
        (post(10, 100),),
        "created",
        setup=PENDING_30,
        advance_s=10**7,
        balances={1: (0, 30, 0, 0)},
    ),
    Case(
        "expiry/only_due_transfers_expire",
        (tr(10, 4, 5, 1),),
        "created",
        setup=(ok(pend(100, 1, 2, 10, timeout=1), pend(101, 1, 2, 20, timeout=100)),),
        advance_s=2,
        balances={1: (20, 0, 0, 0), 2: (0, 0, 20, 0)},
    ),
    Case(
        "expiry/expired_status_does_not_burn_the_id",
        (post(10, 100), tr(10, 1, 2, 5)),
        "pending_transfer_expired created",
        setup=PENDING_1S,
        advance_s=2,
        balances={1: (0, 5, 0, 0)},
    ),
    Case(
        "expiry/reopens_an_account_a_closing_transfer_closed",
        (tr(10, 1, 2, 5), void(11, 100)),
        "created pending_transfer_expired",
        setup=(ok(pend(100, 1, 2, 0, flags=CLOSE_DR | CLOSE_CR, timeout=1)),),
        advance_s=2,
        balances={1: (0, 5, 0, 0)},
        closed=(),
    ),
]

# -- closing accounts (§9) --------------------------------------------------------------------------
CLOSING_CASES = [
    Case(
        "closing/closing_debit_closes_only_the_debit_account",
        (pend(10, 1, 2, 0, flags=CLOSE_DR), tr(11, 1, 4), tr(12, 4, 1), tr(13, 2, 4)),
        "created debit_account_already_closed credit_account_already_closed created",
        closed=(1,),
        balances={2: (0, 10, 0, 0)},
    ),
    Case(
        "closing/closing_credit_closes_only_the_credit_account",
        (pend(10, 1, 2, 5, flags=CLOSE_CR), tr(11, 2, 4), tr(12, 4, 2), tr(13, 1, 4)),
        "created debit_account_already_closed credit_account_already_closed created",
        closed=(2,),
        balances={1: (5, 10, 0, 0), 2: (0, 0, 5, 0)},
    ),
    Case(
        "closing/both_flags_close_both_accounts",
        (pend(10, 1, 2, 5, flags=CLOSE_DR | CLOSE_CR), tr(11, 4, 1), tr(12, 2, 4)),
        "created credit_account_already_closed debit_account_already_closed",
        closed=(1, 2),
    ),
    Case(
        "closing/void_reopens",
        (void(10, 100), tr(11, 1, 2, 3)),
        "created created",
        setup=(ok(pend(100, 1, 2, 5, flags=CLOSE_DR)),),
        closed=(),
        balances={1: (0, 3, 0, 0)},
    ),
    Case(
        "closing/posting_the_closing_transfer_fails",
        (post(10, 100), post(11, 101)),
        "debit_account_already_closed credit_account_already_closed",
        setup=(ok(pend(100, 1, 2, 5, flags=CLOSE_DR), pend(101, 4, 5, 5, flags=CLOSE_CR)),),
        closed=(1, 5),
        balances={1: (5, 0, 0, 0), 5: (0, 0, 5, 0)},
    ),
    Case(
        "closing/closed_account_refuses_posts_but_allows_voids",
        (post(10, 100), void(11, 100)),
        "debit_account_already_closed created",
        setup=(ok(pend(100, 1, 2, 10), pend(101, 1, 2, 0, flags=CLOSE_DR)),),
        closed=(1,),
        balances={1: ZERO, 2: ZERO},
    ),
    Case(
        "closing/closed_rejection_is_transient_and_burns_the_id",
        (tr(10, 1, 2), void(11, 100), tr(10, 1, 2), tr(12, 1, 2)),
        "debit_account_already_closed created id_already_failed created",
        setup=(ok(pend(100, 1, 2, 0, flags=CLOSE_DR)),),
        closed=(),
        balances={1: (0, 10, 0, 0)},
    ),
    Case(
        "closing/close_account_recipe_balancing_and_closing",
        (pend(10, 1, 4, AMOUNT_MAX, flags=BAL_DR | CLOSE_DR),),
        "created",
        setup=(ok(fund(100, 1, 100), tr(101, 1, 2, 30)),),
        closed=(1,),
        balances={1: (70, 30, 0, 100), 4: (0, 0, 70, 0)},
        stored={10: {"amount": 70}},
    ),
    Case(
        "closing/account_created_closed_cannot_be_used",
        (pend(10, 6, 2, 0, flags=CLOSE_DR), tr(11, 2, 6, 0)),
        "debit_account_already_closed credit_account_already_closed",
        accounts=(*STD, acct(6, flags=CLOSED)),
        closed=(6,),
    ),
]

# -- balancing (§5.1) -------------------------------------------------------------------------------
FUNDED_100_SPENT_30 = (ok(fund(100, 1, 100), tr(101, 1, 2, 30)),)

BALANCING_CASES = [
    Case(
        "balancing/debit_clamps_to_what_is_left",
        (tr(10, 1, 2, AMOUNT_MAX, flags=BAL_DR),),
        "created",
        setup=FUNDED_100_SPENT_30,
        balances={1: (0, 100, 0, 100), 2: (0, 0, 0, 100)},
        stored={10: {"amount": 70}},
    ),
    Case(
        "balancing/debit_clamp_counts_pending_debits",
        (tr(10, 1, 4, 1000, flags=BAL_DR),),
        "created",
        setup=(ok(fund(100, 1, 100), pend(101, 1, 2, 30)),),
        balances={1: (30, 70, 0, 100)},
        stored={10: {"amount": 70}},
    ),
    Case(
        "balancing/amount_below_the_clamp_is_kept",
        (tr(10, 1, 2, 40, flags=BAL_DR),),
        "created",
        setup=FUNDED_100_SPENT_30,
        balances={1: (0, 70, 0, 100)},
        stored={10: {"amount": 40}},
    ),
    Case(
        "balancing/clamp_to_zero_is_created_with_amount_zero",
        (tr(10, 1, 2, 50, flags=BAL_DR), tr(11, 4, 2, 50, flags=BAL_DR), tr(12, 1, 4, 50, flags=BAL_CR)),
        "created created created",
        setup=(ok(fund(100, 1, 10), tr(101, 1, 2, 10)),),
        balances={1: (0, 10, 0, 10), 4: ZERO},
        stored={10: {"amount": 0}, 11: {"amount": 0}, 12: {"amount": 0}},
    ),
    Case(
        "balancing/credit_clamps_to_the_credit_account_debits",
        (tr(10, 1, 2, AMOUNT_MAX, flags=BAL_CR),),
        "created",
        setup=(ok(tr(100, 2, 5, 80)),),
        balances={1: (0, 80, 0, 0), 2: (0, 80, 0, 80)},
        stored={10: {"amount": 80}},
    ),
    Case(
        "balancing/both_flags_take_the_smallest",
        (tr(10, 1, 2, 1000, flags=BAL_DR | BAL_CR), tr(11, 1, 2, 1000, flags=BAL_DR | BAL_CR)),
        "created created",
        setup=(ok(fund(100, 1, 70), tr(101, 2, 5, 50)),),
        balances={1: (0, 50, 0, 70), 2: (0, 50, 0, 50)},
        stored={10: {"amount": 50}, 11: {"amount": 0}},
    ),
    Case(
        "balancing/pending_transfer_is_clamped",
        (pend(10, 1, 2, AMOUNT_MAX, flags=BAL_DR), post(11, 10)),
        "created created",
        setup=(ok(fund(100, 1, 70)),),
        balances={1: (0, 70, 0, 70), 2: (0, 0, 0, 70)},
        stored={10: {"amount": 70}, 11: {"amount": 70}},
    ),
    Case(
        "balancing/lets_a_limited_account_spend_exactly_all",
        (tr(10, 6, 2, 1000, flags=BAL_DR), tr(11, 6, 2, 1)),
        "created exceeds_credits",
        accounts=(*STD, acct(6, flags=DMNEC)),
        setup=(ok(fund(100, 6, 25)),),
        balances={6: (0, 25, 0, 25)},
        stored={10: {"amount": 25}},
    ),
]

# -- linked chains (§3.2) ---------------------------------------------------------------------------
CHAIN_CASES = [
    Case(
        "chain/all_created",
        (linked(tr(10, 1, 2, 1)), linked(tr(11, 2, 4, 2)), tr(12, 4, 5, 3)),
        "created created created",
        balances={1: (0, 1, 0, 0), 2: (0, 2, 0, 1), 4: (0, 3, 0, 2), 5: (0, 0, 0, 3)},
    ),
    Case(
        "chain/failure_in_the_middle_applies_nothing",
        (linked(tr(10, 1, 2, 5)), linked(tr(11, 1, 2, 5, ledger=2)), linked(tr(12)), tr(13), tr(14, 1, 2, 7)),
        "linked_event_failed transfer_must_have_the_same_ledger_as_accounts linked_event_failed "
        "linked_event_failed created",
        balances={1: (0, 7, 0, 0), 2: (0, 0, 0, 7)},
    ),
    Case(
        "chain/open_at_the_end_of_the_batch",
        (tr(10, 1, 2, 1), linked(tr(11, 1, 2, 2)), linked(tr(12, 1, 2, 3))),
        "created linked_event_failed linked_event_chain_open",
        balances={1: (0, 1, 0, 0)},
    ),
    Case(
        "chain/single_linked_event_is_open", (linked(tr(10)),), "linked_event_chain_open", balances={1: ZERO}
    ),
    Case(
        "chain/open_takes_precedence_over_failed",
        (linked(tr(10, ledger=0)), linked(tr(11)), linked(tr(12))),
        "ledger_must_not_be_zero linked_event_failed linked_event_chain_open",
        balances={1: ZERO},
    ),
    Case(
        "chain/exists_breaks_the_chain",
        (linked(tr(10)), tr(100)),
        "linked_event_failed exists",
        setup=(ok(tr(100)),),
        balances={1: (0, 10, 0, 0)},
    ),
    Case(
        "chain/resending_a_committed_chain",
        (linked(tr(100)), linked(tr(101)), tr(102)),
        "exists linked_event_failed linked_event_failed",
        setup=(ok(linked(tr(100)), linked(tr(101)), tr(102)),),
        balances={1: (0, 30, 0, 0)},
    ),
    Case(
        "chain/duplicate_inside_the_chain_rolls_back_the_original",
        (linked(tr(10)), linked(tr(10)), tr(11)),
        "linked_event_failed exists linked_event_failed",
        balances={1: ZERO},
    ),
    Case(
        "chain/members_see_each_others_effects",
        (linked(fund(10, 6, 50)), linked(pend(11, 6, 2, 50)), post(12, 11, 20)),
        "created created created",
        accounts=(*STD, acct(6, flags=DMNEC)),
        balances={6: (0, 20, 0, 50), 2: (0, 0, 0, 20)},
    ),
    Case(
        "chain/rollback_restores_the_pending_status",
        (linked(post(10, 100)), tr(11, ledger=0), post(12, 100, 5)),
        "linked_event_failed ledger_must_not_be_zero created",
        setup=PENDING_30,
        balances={1: (0, 5, 0, 0), 2: (0, 0, 0, 5)},
    ),
    Case(
        "chain/rollback_reopens_an_account_closed_inside_it",
        (linked(pend(10, 1, 2, 0, flags=CLOSE_DR)), tr(11, 4, 5, ledger=0), tr(12, 1, 2, 5)),
        "linked_event_failed ledger_must_not_be_zero created",
        closed=(),
        balances={1: (0, 5, 0, 0)},
    ),
    Case(
        "chain/a_new_chain_starts_after_a_broken_one",
        (linked(tr(10)), tr(11, ledger=0), linked(tr(12)), tr(13)),
        "linked_event_failed ledger_must_not_be_zero created created",
        balances={1: (0, 20, 0, 0)},
    ),
]

MORE_CHAIN_CASES = [
    Case(
        "chain/pending_rolled_back_in_a_chain_cannot_be_posted",
        (linked(pend(10)), tr(11, ledger=0), post(12, 10)),
        "linked_event_failed ledger_must_not_be_zero pending_transfer_not_found",
        balances={1: ZERO, 2: ZERO},
    ),
    Case(
        "chain/id_of_a_rolled_back_member_can_be_used_again",
        (linked(tr(10, 1, 2, 5)), tr(11, ledger=0), tr(10, 1, 2, 6)),
        "linked_event_failed ledger_must_not_be_zero created",
        balances={1: (0, 6, 0, 0)},
        stored={10: {"amount": 6}},
    ),
    Case(
        "two_phase/partial_post_resend_with_amount_max_differs",
        (post(101, 100, 12), post(101, 100), post(101, 100, 0)),
        "exists exists_with_different_amount exists_with_different_amount",
        setup=(*PENDING_30, ok(post(101, 100, 12))),
        balances={1: (0, 12, 0, 0)},
    ),
]

CASES = [
    *ACCOUNT_CASES,
    *VALIDATION_CASES,
    *LIMIT_CASES,
    *EXISTS_CASES,
    *TWO_PHASE_CASES,
    *EXPIRY_CASES,
    *CLOSING_CASES,
    *BALANCING_CASES,
    *CHAIN_CASES,
    *MORE_CHAIN_CASES,
]


def _statuses(results: list) -> list[str]:  # type: ignore[type-arg]
    return [r.status.name.lower() for r in results]


def _set_clock_to_expiry(
    db: Database, ledger: LedgerService, clock: ManualClock, pending_id: int, offset: int
) -> None:
    with db.uow(write=False) as conn:
        (p,) = ledger.lookup_transfers(conn, [pending_id])
    target = p.timestamp + p.timeout * NS_PER_S + offset
    clock.advance(ns=target - clock.now_ns())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_scenario(case: Case, db: Database, ledger: LedgerService, clock: ManualClock) -> None:
    with db.uow() as conn:
        created = ledger.create_accounts(conn, case.accounts)
    assert set(_statuses(created)) == {"created"}
    for number, setup in enumerate(case.setup):
        with db.uow() as conn:
            results = ledger.create_transfers(conn, setup.events)
        expected = setup.expect.split() if setup.expect else ["created"] * len(setup.events)
        assert _statuses(results) == expected, f"setup step {number}"
    if case.advance_s:
        clock.advance(seconds=case.advance_s)
    if case.clock_at_expiry:
        _set_clock_to_expiry(db, ledger, clock, *case.clock_at_expiry)

    ids = list(dict.fromkeys(e.id for e in case.batch))
    is_accounts = isinstance(case.batch[0], Account)
    with db.uow(write=False) as conn:
        lookup = ledger.lookup_accounts if is_accounts else ledger.lookup_transfers
        before = {x.id for x in lookup(conn, ids)}
    with db.uow() as conn:
        if is_accounts:
            results = ledger.create_accounts(conn, case.batch)  # type: ignore[arg-type]
        else:
            results = ledger.create_transfers(conn, case.batch)  # type: ignore[arg-type]

    statuses = _statuses(results)
    assert statuses == case.expect.split()
    created_ids = {e.id for e, s in zip(case.batch, statuses, strict=True) if s == "created"}
    with db.uow(write=False) as conn:
        after = {x.id for x in lookup(conn, ids)}
        accounts = {a.id: a for a in ledger.lookup_accounts(conn, list(case.balances))}
        transfers = {t.id: t for t in ledger.lookup_transfers(conn, list(case.stored))}
        every_account = [a.id for a in case.accounts] + ([a.id for a in case.batch] if is_accounts else [])
        flags = {a.id: a.flags for a in ledger.lookup_accounts(conn, every_account)}
    assert after == before | created_ids, "exactly the created events (and earlier rows) exist"
    for account_id, expected_balances in case.balances.items():
        a = accounts[account_id]
        got = (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
        assert got == expected_balances, f"balances of account {account_id}"
    if case.closed is not None:
        assert sorted(i for i, f in flags.items() if f & CLOSED) == sorted(case.closed)
    for transfer_id, expected_fields in case.stored.items():
        t = transfers[transfer_id]
        assert {k: getattr(t, k) for k in expected_fields} == expected_fields, (
            f"stored transfer {transfer_id}"
        )


def test_scenario_table_is_large_and_ids_are_unique() -> None:
    assert len(CASES) >= 70
    assert len({c.id for c in CASES}) == len(CASES)


def test_result_timestamps(db: Database, ledger: LedgerService) -> None:
    """Every event takes one timestamp slot; ``exists`` answers with the stored object's timestamp."""
    with db.uow() as conn:
        accounts = ledger.create_accounts(conn, list(STD))
        again = ledger.create_accounts(conn, [acct(1), acct(1, code=2), acct(10), acct(10)])
    assert _statuses(again) == ["exists", "exists_with_different_code", "created", "exists"]
    assert again[0].timestamp == accounts[0].timestamp
    assert accounts[-1].timestamp < again[1].timestamp == again[2].timestamp - 1
    assert again[3].timestamp == again[2].timestamp  # the duplicate of account 10, created just before

    with db.uow() as conn:
        (setup,) = ledger.create_transfers(conn, [tr(100)])
        batch = [
            tr(10),
            tr(11, ledger=0),
            tr(100),
            tr(100, amount=99),
            linked(tr(12)),
            tr(13, ledger=0),
            tr(10),
        ]
        results = ledger.create_transfers(conn, batch)
    stamps = [r.timestamp for r in results]
    assert _statuses(results) == [
        "created",
        "ledger_must_not_be_zero",
        "exists",
        "exists_with_different_amount",
        "linked_event_failed",
        "ledger_must_not_be_zero",
        "exists",
    ]
    assert stamps[2] == setup.timestamp
    assert stamps[6] == stamps[0]
    for position in (1, 3, 4, 5):  # every other event reports its own slot, one per position
        assert stamps[position] == stamps[0] + position
    assert setup.timestamp < stamps[0]
    with db.uow(write=False) as conn:
        (stored,) = ledger.lookup_transfers(conn, [10])
    assert stored.timestamp == stamps[0]
