"""E-invoice errors, each with its HTTP status and a stable problem slug (routers stay thin). Raising
one rolls the unit of work back: nothing changes."""

from __future__ import annotations

from earnloop.errors import DomainError


class EInvoiceError(DomainError):
    status = 400
    slug = "einvoice-error"
    title = "E-invoice error"


class InvalidBarcodeError(EInvoiceError):
    status = 422
    slug = "invalid-barcode"
    title = "Invalid mobile barcode"


class InvalidVerificationCodeError(EInvoiceError):
    status = 422
    slug = "invalid-verification-code"
    title = "Invalid verification code"


class CarrierRejectedError(EInvoiceError):
    """The platform refused the barcode / verification code pair."""

    status = 422
    slug = "carrier-rejected"
    title = "The e-invoice platform rejected the barcode or verification code"


class CarrierTakenError(EInvoiceError):
    status = 409
    slug = "carrier-taken"
    title = "This barcode is already bound"


class CarrierNotFoundError(EInvoiceError):
    status = 404
    slug = "not-found"
    title = "Not found"


class SourceUnavailableError(EInvoiceError):
    """The platform could not be asked (binding needs it); nothing was stored."""

    status = 503
    slug = "einvoice-source-unavailable"
    title = "The e-invoice platform is unavailable"


class EInvoiceConfigError(RuntimeError):
    """Production without the e-invoice keys / platform URL configured."""
