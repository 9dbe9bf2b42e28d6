"""Transactional outbox: events written in the same transaction as the change they describe, delivered
after commit (signed webhooks to partners), retried, idempotent at the receiver by event id."""
