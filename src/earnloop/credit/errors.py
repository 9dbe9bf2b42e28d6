"""Errors of credit (each with its HTTP status and problem slug; raising one rolls the unit of work
back)."""

from __future__ import annotations

from earnloop.errors import DomainError


class CreditError(DomainError):
    status = 422
    slug = "credit-invalid"
    title = "Credit request refused"


class ModelNotFoundError(CreditError):
    status = 404
    slug = "credit-model-not-found"
    title = "No such credit model"


class NoApprovedModelError(CreditError):
    status = 409
    slug = "credit-no-approved-model"
    title = "No approved credit model"


class FourEyesError(CreditError):
    status = 409
    slug = "credit-four-eyes"
    title = "A model is approved by someone other than its author"


class ModelStateError(CreditError):
    status = 409
    slug = "credit-model-state"
    title = "The model is not in a state that allows this"


class UserNotFoundError(CreditError):
    status = 404
    slug = "credit-user-not-found"
    title = "No such user"
