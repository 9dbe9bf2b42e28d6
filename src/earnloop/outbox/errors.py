"""Webhook errors (:class:`earnloop.errors.DomainError`: HTTP status + problem slug), so routers and the CLI
stay thin."""

from __future__ import annotations

from earnloop.errors import DomainError


class WebhookNotFoundError(DomainError):
    status = 404
    slug = "not-found"
    title = "Not found"


class WebhookConflictError(DomainError):
    status = 409
    slug = "webhook-conflict"
    title = "Webhook conflict"


class InvalidWebhookUrlError(DomainError):
    status = 422
    slug = "invalid-webhook-url"
    title = "Invalid webhook URL"


class InvalidWebhookRequestError(DomainError):
    status = 422
    slug = "invalid-request"
    title = "Invalid request"
