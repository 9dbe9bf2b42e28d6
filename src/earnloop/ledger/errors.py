"""Errors of the ledger domain. Business outcomes are result codes, not exceptions: only malformed
input (wrong types, out-of-range integers, oversized batches) raises, before anything is written."""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of ledger exceptions."""


class InvalidBatchError(LedgerError, ValueError):
    """The batch is malformed; nothing was written. The message names the offending item and field."""
