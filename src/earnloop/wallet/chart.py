"""The chart of accounts: every kind of ledger account the platform uses, named in one place.

A ledger account is identified by (kind, owner, currency); its 128-bit id is derived from those with
BLAKE2b, so that opening an account is idempotent and any service can find it without a lookup table.
``ledger`` = the currency's ISO 4217 numeric code; ``code`` = the kind below.

Credit line (ADR 0034): two accounts per user and currency and one grant account per currency.
``CREDIT_LINE_AVAILABLE`` (debits must not exceed credits) holds the *available* credit: the limit
grant credits it from ``CREDIT_GRANTS`` and every draw first debits it back (``credit_limit_used``), in
the same linked chain as the draw, so the ledger itself refuses a draw above what is available.
``CREDIT_LINE_DRAWN`` (credits must not exceed debits) is the receivable: a draw debits it towards the
merchant's settlement account (and platform revenue for fees), a repayment credits it from the wallet
(it can never be over-repaid). After every operation the line keeps
``available == max(0, limit − drawn − line debt)``: a repayment re-grants availability, lowering the
limit takes it back (as far as there is any: lowering below what is drawn only blocks new draws). An
overdue statement moves its unpaid amount ``USER_DEBT ← CREDIT_LINE_DRAWN`` (``credit_overdue``): it is
then ordinary debt, which freezes withdrawals.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum

from earnloop.currencies import Currency
from earnloop.ledger.types import U128_MAX, Account, AccountFlags, TransferFlags

NO_LIMIT = AccountFlags.NONE
CREDIT_NORMAL = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.HISTORY


class AccountKind(IntEnum):
    """Ledger ``code`` of each account type. Owner column says whose account it is."""

    # owner = user id
    USER_AVAILABLE = 100  # the user's money; credits_pending = cashback awaiting release,
    # debits_pending = money held (deposits, escrow, withdrawals in flight). Never negative.
    USER_DEBT = 101  # what the user owes after a clawback shortfall (debit-normal receivable)
    CREDIT_LINE_DRAWN = 102  # what the user owes on its credit line (receivable; never over-repaid)
    CREDIT_LINE_AVAILABLE = 103  # the credit line's available credit (never negative)
    # owner = partner / merchant / campaign / charity id
    PARTNER_FUNDING = 200  # a partner's commissions that fund cashback (debit-normal receivable)
    CAMPAIGN_BUDGET = 201  # a campaign's budget; cannot overdraw
    MERCHANT_SETTLEMENT = 300  # what the platform owes a merchant for payments
    CHARITY = 400  # donations collected for one charity
    # owner = 0 (one per currency)
    OPERATOR_FUNDING = 500  # the operator's own money: manual adjustments, goodwill credits
    PLATFORM_REVENUE = 501  # fees the platform earns
    PAYOUTS = 502  # money paid out to users' bank/e-wallet destinations
    FX_POSITION = 503  # the platform's position in each currency from conversions
    DEPOSITS = 504  # captured deposit amounts awaiting settlement to the rental merchant
    CREDIT_GRANTS = 505  # the other side of every credit line's available credit


_FLAGS: dict[AccountKind, AccountFlags] = {
    AccountKind.USER_AVAILABLE: CREDIT_NORMAL,
    AccountKind.USER_DEBT: AccountFlags.HISTORY,
    AccountKind.CREDIT_LINE_DRAWN: AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS | AccountFlags.HISTORY,
    AccountKind.CREDIT_LINE_AVAILABLE: CREDIT_NORMAL,
    AccountKind.PARTNER_FUNDING: NO_LIMIT,
    AccountKind.CAMPAIGN_BUDGET: CREDIT_NORMAL,
    AccountKind.MERCHANT_SETTLEMENT: CREDIT_NORMAL,
    AccountKind.CHARITY: CREDIT_NORMAL,
    AccountKind.OPERATOR_FUNDING: NO_LIMIT,
    AccountKind.PLATFORM_REVENUE: CREDIT_NORMAL,
    AccountKind.PAYOUTS: NO_LIMIT,
    AccountKind.FX_POSITION: NO_LIMIT,
    AccountKind.DEPOSITS: CREDIT_NORMAL,
    AccountKind.CREDIT_GRANTS: NO_LIMIT,
}


@dataclass(frozen=True, slots=True)
class AccountRef:
    """One account of the chart: kind, owner and currency, and the ledger account they determine."""

    kind: AccountKind
    owner: int
    currency: Currency

    @property
    def id(self) -> int:
        return account_id(self.kind, self.owner, self.currency.code)

    @property
    def ledger(self) -> int:
        return self.currency.ledger

    def to_account(self) -> Account:
        return Account(
            id=self.id,
            ledger=self.currency.ledger,
            code=int(self.kind),
            flags=int(_FLAGS[self.kind]),
            user_data_64=self.owner,
        )


def account_id(kind: AccountKind, owner: int, currency_code: str) -> int:
    """Deterministic 128-bit id, never 0 nor 2**128-1."""
    digest = hashlib.blake2b(f"acct:{int(kind)}:{owner}:{currency_code}".encode(), digest_size=16).digest()
    value = int.from_bytes(digest, "big")
    return value if 0 < value < U128_MAX else 1


def transfer_id(*parts: object) -> int:
    """Deterministic 128-bit transfer id from an operation's identity (e.g. idempotency key + step):
    a retried operation re-sends the same ids and the ledger answers ``exists``."""
    text = "\x1f".join(str(p) for p in parts)
    value = int.from_bytes(hashlib.blake2b(f"xfer:{text}".encode(), digest_size=16).digest(), "big")
    return value if 0 < value < U128_MAX else 1


class TransferKind(IntEnum):
    """Ledger transfer ``code``: what a movement means, and how the wallet history describes it."""

    CASHBACK_PENDING = 1
    CASHBACK_CONFIRMED = 2
    CASHBACK_REVERSED = 3
    CLAWBACK = 4
    DEBT_RECORDED = 5
    DEBT_REPAID = 6
    ADJUSTMENT_CREDIT = 7
    ADJUSTMENT_DEBIT = 8
    PAYMENT = 10
    PAYMENT_FEE = 11
    REFUND = 12
    ESCROW_HOLD = 20
    ESCROW_RELEASE = 21
    ESCROW_REFUND = 22
    DEPOSIT_HOLD = 30
    DEPOSIT_CAPTURE = 31
    DEPOSIT_RELEASE = 32
    DONATION = 40
    WITHDRAWAL_HOLD = 50
    WITHDRAWAL_PAID = 51
    WITHDRAWAL_RETURNED = 52
    FX_OUT = 60
    FX_IN = 61
    CREDIT_LIMIT_GRANTED = 70
    CREDIT_LIMIT_USED = 71
    CREDIT_DRAW = 72
    CREDIT_DRAW_FEE = 73
    CREDIT_REPAID = 74
    CREDIT_OVERDUE = 75


DESCRIPTIONS: dict[TransferKind, str] = {
    TransferKind.CASHBACK_PENDING: "Cashback on its way",
    TransferKind.CASHBACK_CONFIRMED: "Cashback confirmed",
    TransferKind.CASHBACK_REVERSED: "Cashback cancelled",
    TransferKind.CLAWBACK: "Cashback reversed after the purchase was refunded",
    TransferKind.DEBT_RECORDED: "Amount owed after a reversal",
    TransferKind.DEBT_REPAID: "Amount owed repaid from new cashback",
    TransferKind.ADJUSTMENT_CREDIT: "Adjustment by support",
    TransferKind.ADJUSTMENT_DEBIT: "Adjustment by support",
    TransferKind.PAYMENT: "Payment",
    TransferKind.PAYMENT_FEE: "Payment fee",
    TransferKind.REFUND: "Refund",
    TransferKind.ESCROW_HOLD: "Payment held until you confirm delivery",
    TransferKind.ESCROW_RELEASE: "Payment released to the seller",
    TransferKind.ESCROW_REFUND: "Held payment refunded",
    TransferKind.DEPOSIT_HOLD: "Deposit held",
    TransferKind.DEPOSIT_CAPTURE: "Deposit charged",
    TransferKind.DEPOSIT_RELEASE: "Deposit released",
    TransferKind.DONATION: "Donation",
    TransferKind.WITHDRAWAL_HOLD: "Withdrawal in progress",
    TransferKind.WITHDRAWAL_PAID: "Withdrawal paid out",
    TransferKind.WITHDRAWAL_RETURNED: "Withdrawal returned",
    TransferKind.FX_OUT: "Currency conversion (out)",
    TransferKind.FX_IN: "Currency conversion (in)",
    TransferKind.CREDIT_LIMIT_GRANTED: "Credit line available",
    TransferKind.CREDIT_LIMIT_USED: "Credit line used",
    TransferKind.CREDIT_DRAW: "Payment with the credit line",
    TransferKind.CREDIT_DRAW_FEE: "Credit line fee",
    TransferKind.CREDIT_REPAID: "Credit line repaid",
    TransferKind.CREDIT_OVERDUE: "Overdue credit line balance, now owed",
}

# A post or void keeps its pending transfer's code (TigerBeetle); what it means depends on which it is.
POSTED_AS: dict[TransferKind, TransferKind] = {
    TransferKind.CASHBACK_PENDING: TransferKind.CASHBACK_CONFIRMED,
    TransferKind.ESCROW_HOLD: TransferKind.ESCROW_RELEASE,
    TransferKind.DEPOSIT_HOLD: TransferKind.DEPOSIT_CAPTURE,
    TransferKind.WITHDRAWAL_HOLD: TransferKind.WITHDRAWAL_PAID,
}
VOIDED_AS: dict[TransferKind, TransferKind] = {
    TransferKind.CASHBACK_PENDING: TransferKind.CASHBACK_REVERSED,
    TransferKind.ESCROW_HOLD: TransferKind.ESCROW_REFUND,
    TransferKind.DEPOSIT_HOLD: TransferKind.DEPOSIT_RELEASE,
    TransferKind.WITHDRAWAL_HOLD: TransferKind.WITHDRAWAL_RETURNED,
}


def describe(code: int, flags: int) -> tuple[str, str]:
    """(kind name, human description) of a ledger transfer as a wallet shows it."""
    try:
        kind = TransferKind(code)
    except ValueError:
        return f"code_{code}", "Ledger movement"
    if flags & TransferFlags.POST_PENDING_TRANSFER:
        kind = POSTED_AS.get(kind, kind)
    elif flags & TransferFlags.VOID_PENDING_TRANSFER:
        kind = VOIDED_AS.get(kind, kind)
    return kind.name.lower(), DESCRIPTIONS[kind]
