"""Errors of the tracking domain (operators' and users' requests; postbacks answer with reason codes)."""

from __future__ import annotations

from earnloop.errors import DomainError


class TrackingError(DomainError):
    status = 422
    slug = "tracking-invalid"
    title = "Invalid tracking request"


class NoStoreLinkError(DomainError):
    status = 409
    slug = "no-store-link"
    title = "The game has no store link"


class PartnerNotFoundError(DomainError):
    status = 404
    slug = "partner-not-found"
    title = "No such partner"
