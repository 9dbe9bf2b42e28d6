"""Webhook errors: wallet-style errors (HTTP status + problem slug), so routers and the CLI stay thin."""

from __future__ import annotations

from earnloop.wallet.errors import WalletError


class WebhookNotFoundError(WalletError):
    status = 404
    slug = "not-found"
    title = "Not found"


class WebhookConflictError(WalletError):
    status = 409
    slug = "webhook-conflict"
    title = "Webhook conflict"


class InvalidWebhookUrlError(WalletError):
    status = 422
    slug = "invalid-webhook-url"
    title = "Invalid webhook URL"


class InvalidWebhookRequestError(WalletError):
    status = 422
    slug = "invalid-request"
    title = "Invalid request"
