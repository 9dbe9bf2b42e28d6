"""Escrow: guaranteed trades between a buyer (user) and a seller (merchant), on a pending ledger transfer."""
