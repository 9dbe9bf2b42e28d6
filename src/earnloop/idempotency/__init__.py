"""Idempotency keys for every externally triggered write: same key + same body → the same answer;
same key + a different body → ``exists_with_different_fields``."""
