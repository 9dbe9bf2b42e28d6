"""E-invoice carriers: bind a mobile barcode, sync its receipts from the MoF e-invoice platform."""
