"""The ledger: accounts, transfers, two-phase transfers and balances, with TigerBeetle semantics."""
