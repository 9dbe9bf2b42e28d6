"""Affiliate errors: domain errors (HTTP status + problem slug) for the API and the CLI, and the
internal rejection of one conversion update (a stable reason code, answered in the reply)."""

from __future__ import annotations

from earnloop.errors import DomainError


class AffiliateError(DomainError):
    status = 422
    slug = "affiliate-invalid"
    title = "Invalid affiliate request"


class ReportRejectedError(AffiliateError):
    """The report file itself is unreadable (encoding, header, size): nothing was imported."""

    slug = "affiliate-report-rejected"
    title = "Affiliate report rejected"


class UpdateRejected(Exception):  # noqa: N818 -- a reply, not a failure of ours
    """One conversion update refused, with a stable reason code (stored, counted, shown)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
