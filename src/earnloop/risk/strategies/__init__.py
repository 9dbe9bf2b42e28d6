"""Stored, versioned risk strategies: publish (validated, test pack run), four-eyes approval, rollback,
the shadow candidate, the audit log, and the hot-deploying ``source.DbStrategySource`` (issue 15,
ADR 0025)."""
