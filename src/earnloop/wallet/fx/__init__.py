"""FX: exchange rates (exact decimals) and users' conversions between their wallets."""
