"""The e-invoice source: the Ministry of Finance e-invoice platform's app API (財政部電子發票整合服務平台,
"大平台" API for apps), and its HTTP client.

Protocol, as public clients of the platform use it (sources below; the official spec is the platform's
"電子發票應用 API 規格" for registered apps — check it before going live):

- ``POST {base}/PB2CAPIVAN/invServ/InvServ``, ``application/x-www-form-urlencoded``, answers JSON.
- ``action=carrierInvChk`` — carrier invoice *header* list for ``startDate``..``endDate`` (``yyyy/MM/dd``)
  with ``version`` (0.5), ``cardType`` (``3J0002`` = mobile barcode), ``cardNo`` (the barcode),
  ``cardEncrypt`` (its verification code), ``expTimeStamp``, ``timeStamp`` (Unix seconds),
  ``onlyWinningInv`` (``N``), ``uuid`` (the device / installation id) and ``appID``. Answer:
  ``{"v", "code": 200, "msg", "details": [{"rowNum", "invNum", "invDate": {"year": <ROC year>,
  "month": 1-12, "date", "time": <ms>…}, "sellerName", "sellerBan", "amount", "invStatus", "invPeriod",
  "invoiceTime", "currency"…}]}``; a refusal has another ``code`` and a ``msg``.
- ``action=carrierInvDetail`` — one invoice's detail (``invNum``, ``invDate`` as ``yyyy/MM/dd``) with the
  same carrier parameters. Answer: ``{"code": 200, "invNum", "invDate": "yyyyMMdd", "sellerName",
  "sellerBan", "amount", "invStatus", "currency", "details": [{"rowNum", "description", "quantity",
  "unitPrice", "amount"}]}``.
- ``signature`` = Base64(HMAC-SHA256(app key, the parameters sorted by name and joined as
  ``name=value&…`` *before* URL-encoding)) — older versions used HMAC-SHA1 the same way.

Sources: github.com/MrMYHuang/twei (src/Apis.ts, src/models/CarrierInvChk.ts, CarrierInvDetail.ts:
parameters and answer shapes, version 0.5); the node-tw-e-invoice wiki page "Signature"
(github-wiki-see.page/m/ShenTengTu/node-tw-e-invoice/wiki/Signature: sorted, not URL-encoded, Base64
HMAC); nestor-talks.blogspot.com/2013/07/how-to-use-einvoice-application-api.html (signature over all
parameters with the API key); public Android/iOS clients' constants (``3J0002``, ``invStatus``,
``sellerBan``, 1-based ROC ``invDate``).

Modelling assumptions (not confirmed by a public source): ``invStatus`` is ``已確認`` for a valid
invoice, ``作廢`` when voided and ``折讓`` when the sale was returned (an allowance); the platform code
for a wrong barcode / verification code is taken from :data:`CREDENTIALS_REJECTED_CODES`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol

import httpx

from earnloop.config import Settings
from earnloop.einvoice.cipher import app_key_from_settings
from earnloop.einvoice.errors import EInvoiceConfigError

INV_SERV_PATH = "/PB2CAPIVAN/invServ/InvServ"
API_VERSION = "0.5"
CARD_TYPE_MOBILE_BARCODE = "3J0002"
OK_CODE = "200"
# The fake platform answers these for a wrong barcode / verification code (see the module docstring).
CREDENTIALS_REJECTED_CODES = frozenset({"403"})
REQUEST_TTL_S = 300
FAKE_EINVOICE_PATH = "/fake-einvoice"  # where ``earnloop serve`` mounts the fake without a platform URL

Status = Literal["issued", "voided", "returned"]
INV_STATUS: dict[str, Status] = {"已確認": "issued", "作廢": "voided", "折讓": "returned"}
STATUS_TEXT: dict[Status, str] = {v: k for k, v in INV_STATUS.items()}


class SourceError(Exception):
    """The platform could not answer (timeout, connection error, HTTP error, refusal, unreadable body)."""


class CredentialsRejectedError(SourceError):
    """The platform says the barcode / verification code pair is wrong."""


@dataclass(frozen=True, slots=True)
class InvoiceHeader:
    invoice_number: str
    invoice_date: date
    seller_name: str
    seller_tax_id: str
    amount: Decimal
    currency: str
    status_text: str

    @property
    def status(self) -> Status | None:
        return INV_STATUS.get(self.status_text)


@dataclass(frozen=True, slots=True)
class InvoiceDetail:
    header: InvoiceHeader
    items: tuple[dict[str, str], ...]


class EInvoiceSource(Protocol):
    def carrier_headers(
        self, barcode: str, verification_code: str, start: date, end: date
    ) -> list[InvoiceHeader]:
        """Headers of the carrier's invoices dated ``start``..``end`` (inclusive). Raises SourceError."""
        ...

    def carrier_detail(
        self, barcode: str, verification_code: str, invoice_number: str, invoice_date: date
    ) -> InvoiceDetail:
        """One invoice's detail. Raises :class:`SourceError`."""
        ...


def signing_string(params: Mapping[str, str]) -> str:
    """The parameters (without ``signature``) sorted by name, ``name=value`` joined by ``&``, unencoded."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")


def sign(app_key: str, params: Mapping[str, str]) -> str:
    digest = hmac.new(app_key.encode(), signing_string(params).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_matches(app_key: str, params: Mapping[str, str]) -> bool:
    presented = params.get("signature")
    return presented is not None and hmac.compare_digest(sign(app_key, params), presented)


def format_date(day: date) -> str:
    return day.strftime("%Y/%m/%d")


class HttpEInvoiceSource:
    """The platform reached over HTTP with signed requests."""

    def __init__(
        self,
        base_url: str,
        *,
        app_id: str,
        app_key: str,
        timeout_s: float,
        device_uuid: str | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self._app_key = app_key
        self.device_uuid = device_uuid or uuid.uuid4().hex
        self._client = client or httpx.Client(timeout=timeout_s)

    def __repr__(self) -> str:  # never print the key
        return f"HttpEInvoiceSource({self.base_url!r}, app_id={self.app_id!r})"

    # -- the protocol ---------------------------------------------------------------------------------
    def carrier_headers(
        self, barcode: str, verification_code: str, start: date, end: date
    ) -> list[InvoiceHeader]:
        body = self._call(
            "carrierInvChk",
            barcode,
            verification_code,
            {"startDate": format_date(start), "endDate": format_date(end), "onlyWinningInv": "N"},
        )
        details = body.get("details", [])
        if not isinstance(details, list):
            raise SourceError("unreadable platform answer: details is not a list")
        return [_parse_header(d) for d in details]

    def carrier_detail(
        self, barcode: str, verification_code: str, invoice_number: str, invoice_date: date
    ) -> InvoiceDetail:
        body = self._call(
            "carrierInvDetail",
            barcode,
            verification_code,
            {"invNum": invoice_number, "invDate": format_date(invoice_date)},
        )
        header = _parse_header(body)
        if header.invoice_number != invoice_number or header.invoice_date != invoice_date:
            raise SourceError("platform answered for another invoice")
        items = body.get("details") or []
        if not isinstance(items, list):
            raise SourceError("unreadable platform answer: details is not a list")
        return InvoiceDetail(header, tuple({k: str(v) for k, v in i.items()} for i in items))

    # -- plumbing -------------------------------------------------------------------------------------
    def signed_params(
        self, action: str, barcode: str, verification_code: str, extra: Mapping[str, str]
    ) -> dict[str, str]:
        now = int(time.time())
        params = {
            "version": API_VERSION,
            "cardType": CARD_TYPE_MOBILE_BARCODE,
            "cardNo": barcode,
            "expTimeStamp": str(now + REQUEST_TTL_S),
            "action": action,
            "timeStamp": str(now),
            "uuid": self.device_uuid,
            "appID": self.app_id,
            "cardEncrypt": verification_code,
            **extra,
        }
        params["signature"] = sign(self._app_key, params)
        return params

    def _call(
        self, action: str, barcode: str, verification_code: str, extra: Mapping[str, str]
    ) -> dict[str, Any]:
        body = self._post(self.signed_params(action, barcode, verification_code, extra))
        code = str(body.get("code"))
        if code in CREDENTIALS_REJECTED_CODES:
            raise CredentialsRejectedError(f"platform refused the carrier: {_msg(body)}")
        if code != OK_CODE:
            raise SourceError(f"platform answered code {code[:10]}: {_msg(body)}")
        return body

    def _post(self, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = self._client.post(self.base_url + INV_SERV_PATH, data=params)
        except httpx.HTTPError as exc:  # timeouts, refused connections, protocol errors
            raise SourceError(f"{type(exc).__name__} calling the e-invoice platform") from exc
        if response.status_code != 200:
            raise SourceError(f"platform answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise SourceError("platform answer is not JSON") from exc
        if not isinstance(body, dict):
            raise SourceError("unreadable platform answer")
        return body

    def close(self) -> None:
        self._client.close()


def _msg(body: Mapping[str, Any]) -> str:
    return str(body.get("msg", ""))[:120]


def _parse_header(raw: Any) -> InvoiceHeader:
    """A header (``carrierInvChk`` row) or a detail answer's header fields."""
    if not isinstance(raw, dict):
        raise SourceError("unreadable platform answer: invoice is not an object")
    try:
        number = str(raw["invNum"])
        day = _parse_date(raw["invDate"])
        amount = Decimal(str(raw["amount"]))
    except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
        raise SourceError("unreadable platform answer: bad invoice fields") from exc
    if not amount.is_finite():
        raise SourceError("unreadable platform answer: bad amount")
    return InvoiceHeader(
        invoice_number=number,
        invoice_date=day,
        seller_name=str(raw.get("sellerName") or "")[:120],
        seller_tax_id=str(raw.get("sellerBan") or ""),
        amount=amount,
        currency=str(raw.get("currency") or "TWD").upper() or "TWD",
        status_text=str(raw.get("invStatus") or ""),
    )


def _parse_date(value: Any) -> date:
    """``{"year": <ROC year>, "month": 1-12, "date": d}`` (headers) or ``"yyyyMMdd"`` (detail)."""
    if isinstance(value, dict):
        return date(int(value["year"]) + 1911, int(value["month"]), int(value["date"]))
    text = str(value)
    if len(text) != 8 or not text.isdigit():
        raise ValueError("invDate")
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def source_from_settings(settings: Settings) -> HttpEInvoiceSource:
    """The configured platform over HTTP; without a URL, the fake served by ``earnloop serve``."""
    if settings.environment == "production" and not settings.einvoice_api_url:
        raise EInvoiceConfigError(
            "EARNLOOP_EINVOICE_API_URL must be set when EARNLOOP_ENVIRONMENT=production"
        )
    url = settings.einvoice_api_url or f"http://{settings.host}:{settings.port}{FAKE_EINVOICE_PATH}"
    return HttpEInvoiceSource(
        url,
        app_id=settings.einvoice_app_id,
        app_key=app_key_from_settings(settings),
        timeout_s=settings.einvoice_timeout_s,
    )
