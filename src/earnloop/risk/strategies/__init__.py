"""Stored, versioned risk strategies: publish (validated, test pack run), four-eyes approval, rollback,
shadow candidate, the audit log, and the hot-deploying :class:`~earnloop.risk.strategies.source.
DbStrategySource` (issue 15, ADR 0025)."""
