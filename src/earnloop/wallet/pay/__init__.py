"""Merchant payments: orders, pay codes, refunds and the merchant fee."""
