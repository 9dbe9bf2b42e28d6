"""Credit-line errors (status + problem slug, like every wallet error)."""

from __future__ import annotations

from earnloop.wallet.errors import WalletError


class CreditLimitExceededError(WalletError):
    """A draw (amount + fee) above the line's available credit; nothing moved."""

    status = 422
    slug = "credit-limit-exceeded"
    title = "Above the available credit"


class NoCreditLineError(WalletError):
    status = 404
    slug = "not-found"
    title = "No credit line"


class FeeChangedError(WalletError):
    """The fee the user confirmed is not the fee now: quote again."""

    status = 409
    slug = "state-conflict"
    title = "The fee changed"


class OverRepaymentError(WalletError):
    status = 422
    slug = "invalid-amount"
    title = "More than is owed"


class CreditLineFrozenError(WalletError):
    """The line has an overdue balance turned into debt: no new draw until it is repaid."""

    status = 409
    slug = "credit-line-frozen"
    title = "Credit line frozen"
