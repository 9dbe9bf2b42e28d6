"""The errors of risk lists, partner feeds and phone reputation: each a :class:`DomainError` (problem+json
over HTTP, one line on the CLI); raising one rolls the unit of work back, so a refused request changes
nothing."""

from __future__ import annotations

from earnloop.errors import DomainError


class RiskInputError(DomainError, ValueError):
    """Bad input: an unknown list or key, a value that does not normalise, a bad number…"""

    status = 422
    slug = "invalid-request"
    title = "Invalid request"


class RiskNotFoundError(DomainError, LookupError):
    status = 404
    slug = "not-found"
    title = "Not found"


class FeedRefusedError(DomainError):
    """A partner feed that is not imported: bad format, unknown issuer, or a signature that does not
    verify (tampered, or signed with another key)."""

    status = 422
    slug = "feed-refused"
    title = "Feed refused"


class FeedReplayedError(DomainError):
    """A feed no newer than the last one imported from its issuer."""

    status = 409
    slug = "feed-replayed"
    title = "Feed replayed"


class FeedSigningKeyError(DomainError):
    """Our signing key is not configured, missing or unreadable (its content is never shown)."""

    status = 503
    slug = "feed-signing-key-unavailable"
    title = "Feed signing key unavailable"


class DuplicateFeedPartnerError(DomainError):
    status = 409
    slug = "duplicate"
    title = "Already exists"
