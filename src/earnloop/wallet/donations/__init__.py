"""Donations: charity campaigns, donations and public statements that reconcile to the ledger."""
