"""earnloop: cashback, wallet, risk and credit on a double-entry ledger."""

__version__ = "0.1.0"
