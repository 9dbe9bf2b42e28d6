"""Errors of the tracking domain (operators' and users' requests; postbacks answer with reason codes)."""

from __future__ import annotations

from earnloop.wallet.errors import NotFoundError, WalletError


class TrackingError(WalletError):
    status = 422
    slug = "tracking-invalid"
    title = "Invalid tracking request"


class NoStoreLinkError(WalletError):
    status = 409
    slug = "no-store-link"
    title = "The game has no store link"


class PartnerNotFoundError(NotFoundError):
    slug = "partner-not-found"
    title = "No such partner"
