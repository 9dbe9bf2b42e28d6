"""Wallet errors (:class:`earnloop.errors.DomainError`: HTTP status + stable problem slug), so routers stay
thin and the OpenAPI document can list them. Raising one rolls the unit of work back: nothing changes."""

from __future__ import annotations

from earnloop.errors import DomainError


class WalletError(DomainError):
    status = 400
    slug = "wallet-error"
    title = "Wallet error"


class NotFoundError(WalletError):
    status = 404
    slug = "not-found"
    title = "Not found"


class InsufficientFundsError(WalletError):
    status = 422
    slug = "insufficient-funds"
    title = "Insufficient funds"


class InvalidAmountError(WalletError):
    status = 422
    slug = "invalid-amount"
    title = "Invalid amount"


class LimitExceededError(WalletError):
    status = 422
    slug = "limit-exceeded"
    title = "Limit exceeded"


class StateConflictError(WalletError):
    """The operation is not allowed in the object's current state (double confirm, illegal transition)."""

    status = 409
    slug = "state-conflict"
    title = "Not allowed in the current state"


class FrozenError(WalletError):
    status = 409
    slug = "wallet-frozen"
    title = "Withdrawals are frozen while a debt is open"


class LedgerRejectedError(WalletError):
    """The ledger refused a transfer the wallet expected to succeed (a bug or a race we did not expect)."""

    status = 500
    slug = "ledger-rejected"
    title = "Ledger rejected the operation"
