"""The wallet: user-facing money flows built on the ledger, one sub-package per flow (cashback, pay,
escrow, holds, donations, withdrawals, fx); the core (chart of accounts, currencies, wallets, their view
and history, adjustments) at this level. Every balance it shows comes from the ledger."""
