"""Errors of deposit holds and mandates (each with its HTTP status and problem slug; raising one rolls the
unit of work back)."""

from __future__ import annotations

from earnloop.wallet.errors import WalletError


class HoldExpiredError(WalletError):
    status = 409
    slug = "hold-expired"
    title = "The hold has expired and its money was released"


class HoldRequestExpiredError(WalletError):
    status = 409
    slug = "hold-request-expired"
    title = "The hold request was not approved in time"


class ExceedsHoldError(WalletError):
    status = 422
    slug = "exceeds-hold"
    title = "Capture exceeds the held amount"


class NoMandateError(WalletError):
    status = 403
    slug = "no-mandate"
    title = "The user has granted you no active mandate in this currency"


class MandateLimitError(WalletError):
    status = 422
    slug = "mandate-limit-exceeded"
    title = "The hold exceeds what the user's mandate allows"
