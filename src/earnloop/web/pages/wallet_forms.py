"""What the wallet's pages share: reading a posted form (text fields, an amount typed in major units
→ integer minor units, the form's idempotency key), the readable message of a domain refusal,
where a request came from (risk screening's entity keys), and the step-up of an action on a record the
user owns (an order to pay, a hold to approve).

A money-moving form carries a random key (``key``) generated when the form is rendered: the domain
services are idempotent on it, so submitting the same form twice moves money once.

Messages here are English message ids marked with :func:`_` (extracted into the catalog); templates
translate them when they show them (``{{ _(error) }}``)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from earnloop.api.withdrawals import presence_of
from earnloop.currencies import UnknownCurrencyError, currency
from earnloop.errors import DomainError
from earnloop.wallet.screening import Presence
from earnloop.web import i18n, stepup
from earnloop.web.session import WebUser

KEY_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
AMOUNT_RE = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,4})?$")
FIELD_MAX = 200


def _(message: str) -> str:
    """Mark ``message`` for the catalog; it is translated where it is shown."""
    return message


class FormError(Exception):
    """A form value the page refuses before calling the domain; ``message`` is a message id."""

    status = 422

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def new_key() -> str:
    """A fresh idempotency key for a form about to be shown."""
    return secrets.token_urlsafe(18)


def text(form: FormData, name: str, *, max_len: int = FIELD_MAX) -> str:
    """A posted text field, trimmed ("" when absent or not text)."""
    value = form.get(name)
    return value.strip()[:max_len] if isinstance(value, str) else ""


def form_key(form: FormData) -> str:
    key = text(form, "key", max_len=100)
    if not KEY_RE.match(key):
        raise FormError(_("This form has expired. Please try again."))
    return key


def whole_id(form: FormData, name: str, message: str) -> int:
    value = text(form, name, max_len=19)
    if not value.isdigit() or not 0 < int(value) < 1 << 63:
        raise FormError(message)
    return int(value)


def amount_minor(typed: str, currency_code: str) -> int:
    """An amount typed in major units (``100``, ``12.50``, ``1,000``) as integer minor units of the
    currency; more decimals than the currency has, zero, or anything else is refused."""
    cleaned = typed.replace(",", "").replace(" ", "").strip()
    try:
        exponent = currency(currency_code).exponent
    except UnknownCurrencyError as exc:
        raise FormError(_("Choose one of your wallets.")) from exc
    if not AMOUNT_RE.match(cleaned):
        raise FormError(_("Enter an amount, e.g. 100 or 12.50."))
    try:
        scaled = Decimal(cleaned).scaleb(exponent)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only plain decimals
        raise FormError(_("Enter an amount, e.g. 100 or 12.50.")) from exc
    if scaled != scaled.to_integral_value():
        raise FormError(_("That amount has more decimals than the currency allows."))
    minor = int(scaled)
    if not 0 < minor <= 1 << 62:
        raise FormError(_("Enter an amount greater than zero."))
    return minor


def as_typed(minor: int, currency_code: str) -> str:
    """Minor units back as the form shows them (``1250`` TWD cents → ``12.50``)."""
    return str(Decimal(minor).scaleb(-currency(currency_code).exponent))


REFUSALS: dict[str, str] = {
    "insufficient-funds": _("Not enough money in your wallet for this."),
    "risk-denied": _("For your safety this was refused. Nothing was moved."),
    "risk-review": _("This is being reviewed by our safety team. Nothing was moved; try again later."),
    "limit-exceeded": _("This goes over a limit (minimum amount or daily limit)."),
    "wallet-frozen": _("Withdrawals are paused while you owe an amount from a reversed cashback."),
    "invalid-amount": _("Check the amount and the details you entered."),
    "invalid-request": _("Check the details you entered."),
    "not-found": _("We could not find that. It may have been removed or never existed."),
    "state-conflict": _("This was already done or is no longer possible."),
    "order-expired": _("This order has expired. Ask the store for a new one."),
    "hold-request-expired": _("This request has expired. Ask the merchant for a new one."),
    "hold-expired": _("This deposit hold has expired."),
    "exists-with-different-fields": _("This form was already sent with other values. Please start again."),
    "fx-rate-unavailable": _("No exchange rate is available for this currency right now."),
}


def refusal_message(exc: DomainError) -> str:
    """The readable message id of a domain refusal."""
    return REFUSALS.get(exc.slug, _("This could not be done. Nothing was moved."))


def refusal_status(exc: DomainError) -> int:
    """A refusal's HTTP status on a page: the domain's, kept among the 4xx (the form is shown again)."""
    return exc.status if 400 <= exc.status < 500 else 409


def presence(request: Request) -> Presence:
    """Where the request came from, for risk screening (as the API records it)."""
    return presence_of(request)


def translate(request: Request, message: str, **values: object) -> str:
    """``message`` in the request's language with ``%(name)s`` filled (plain text, e.g. a summary)."""
    translated = i18n.translations(i18n.negotiate(request)).gettext(message)
    return translated % values if values else translated


async def confirm_owned(
    request: Request,
    user: WebUser,
    kind: str,
    record: Mapping[str, Any],
    params: dict[str, str],
    summary: str,
    **values: object,
) -> Response:
    """Run the action ``kind`` with ``params`` on ``record`` (its ``amount`` in its ``currency``)
    through the step-up contract — above the threshold once the user's passkey confirms it; ``summary``
    (a message id, ``%(name)s`` filled from ``values``) says what it does on the confirmation page."""
    action = stepup.Action(
        kind=kind,
        amount_minor=record["amount"],
        currency=record["currency"],
        summary=translate(request, summary, **values),
        params=params,
    )
    return await stepup.confirm_or_run(request, user, action)
