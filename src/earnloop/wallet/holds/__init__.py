"""Deposit holds: merchants' hold requests, users' approvals and mandates, deposit policies and overrides."""
