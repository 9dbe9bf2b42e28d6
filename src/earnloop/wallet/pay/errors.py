"""Errors of merchant payments (each with its HTTP status and problem slug; raising one rolls the unit of
work back)."""

from __future__ import annotations

from earnloop.wallet.errors import WalletError


class NotAMerchantError(WalletError):
    status = 403
    slug = "not-a-merchant"
    title = "Only merchant partners can take payments"


class CurrencyMismatchError(WalletError):
    status = 422
    slug = "currency-mismatch"
    title = "Orders are in the merchant's settlement currency"


class DuplicateOrderError(WalletError):
    status = 409
    slug = "duplicate-order"
    title = "This order id is taken"


class OrderExpiredError(WalletError):
    status = 409
    slug = "order-expired"
    title = "The order has expired"


class RefundExceedsPaymentError(WalletError):
    status = 422
    slug = "refund-exceeds-payment"
    title = "Refunds cannot exceed what was paid"


class PayCodeUsedError(WalletError):
    status = 409
    slug = "pay-code-used"
    title = "This pay code was already used"


class PayCodeExpiredError(WalletError):
    status = 422
    slug = "pay-code-expired"
    title = "This pay code has expired"


class PayCodeLimitError(WalletError):
    status = 422
    slug = "pay-code-limit"
    title = "The amount is above what this pay code pays"
