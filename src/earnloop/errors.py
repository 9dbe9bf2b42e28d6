"""The one base of every domain's errors: :class:`DomainError` carries its HTTP status, a stable problem
slug and a title, so the API answers any of them as RFC 9457 problem+json with one handler
(``api/problems.py``) and the CLI prints any of them as one line (``cli_support.py``). Raising one rolls
the unit of work back: nothing changes.

Each domain derives its own base from it (``WalletError``, ``CatalogError``, ``AuthError``…) and never
from another domain's: a domain's errors are its own. This module is on the base floor: it imports
nothing of earnloop (ADR 0022)."""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """A refusal a caller can act on; the message (``str(exc)``) is the problem's ``detail``."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "domain-error"
    title: ClassVar[str] = "Request refused"
