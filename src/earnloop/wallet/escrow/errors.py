"""Errors of escrow, shared with deposit holds (each with its HTTP status and problem slug; raising one
rolls the unit of work back)."""

from __future__ import annotations

from earnloop.wallet.errors import WalletError


class ForbiddenError(WalletError):
    """The caller may not do this (e.g. a non-merchant partner opening a trade)."""

    status = 403
    slug = "forbidden"
    title = "Not allowed for this caller"


class DuplicateRefError(WalletError):
    """The partner's own reference was used already, under another idempotency key."""

    status = 409
    slug = "duplicate-ref"
    title = "Reference already used"
