"""Withdrawals: payout destinations, withdrawals through a payout provider, inquiry of unknowns."""
