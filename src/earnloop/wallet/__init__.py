"""The wallet: user-facing money flows built on the ledger (cashback, pay, escrow, holds, donations,
withdrawals, FX). Every balance it shows comes from the ledger."""
