"""Errors of the ledger domain. Business outcomes are result codes, not exceptions: only malformed
input (wrong types, out-of-range integers, oversized batches) raises, before anything is written."""

from __future__ import annotations

from earnloop.errors import DomainError


class LedgerError(DomainError):
    """Base class of ledger exceptions: a malformed batch, answered 422 ``invalid-batch``."""

    status = 422
    slug = "invalid-batch"
    title = "Invalid batch"


class InvalidBatchError(LedgerError, ValueError):
    """The batch is malformed; nothing was written. The message names the offending item and field."""
