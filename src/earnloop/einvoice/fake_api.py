"""A fake MoF e-invoice platform speaking the app API of :mod:`earnloop.einvoice.source` over HTTP, for
tests and the demo. State lives in memory.

Protocol endpoint: ``POST /PB2CAPIVAN/invServ/InvServ`` (form-encoded; actions ``carrierInvChk`` and
``carrierInvDetail``). It checks what the real platform checks: a known ``appID``, the ``signature``
(Base64 HMAC-SHA256 of the sorted parameters with the app key), a ``timeStamp`` within
:data:`CLOCK_SKEW_S` and an unexpired ``expTimeStamp``, ``cardType`` ``3J0002``, and the barcode /
verification code pair. Refusals are HTTP 200 with a non-200 ``code`` (the fake's codes: ``401`` bad
appID or signature, ``402`` expired or skewed timestamp, ``403`` wrong barcode / verification code,
``404`` no such invoice, ``400`` bad parameters, ``500`` outage).

Test API (not part of the platform): ``POST /_fake/carriers``, ``POST /_fake/invoices``,
``POST /_fake/invoices/{number}/{yyyymmdd}/void`` and ``…/return``, ``PUT /_fake/outage``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from earnloop.einvoice.source import (
    API_VERSION,
    CARD_TYPE_MOBILE_BARCODE,
    STATUS_TEXT,
    HttpEInvoiceSource,
    SourceError,
    Status,
    signature_matches,
)

CLOCK_SKEW_S = 600
TAIPEI = ZoneInfo("Asia/Taipei")


@dataclass
class FakeInvoice:
    barcode: str
    number: str
    day: date
    seller_tax_id: str
    seller_name: str
    amount: int  # TWD dollars, as the platform reports them
    status: Status = "issued"
    time_of_day: str = "12:00:00"
    items: list[dict[str, str]] = field(default_factory=list)


def _roc_date(day: date) -> dict[str, int]:
    midnight = datetime(day.year, day.month, day.day, tzinfo=TAIPEI)
    return {
        "year": day.year - 1911,
        "month": day.month,
        "date": day.day,
        "day": (day.weekday() + 1) % 7,
        "hours": 0,
        "minutes": 0,
        "seconds": 0,
        "time": int(midnight.timestamp() * 1000),
        "timezoneOffset": -480,
    }


@dataclass
class FakePlatform:
    """The platform's state: registered apps, carriers and their invoices; an outage switch."""

    apps: dict[str, str] = field(default_factory=dict)  # appID -> app key
    carriers: dict[str, str] = field(default_factory=dict)  # barcode -> verification code
    invoices: dict[tuple[str, date], FakeInvoice] = field(default_factory=dict)
    down: bool = False
    requests: list[dict[str, str]] = field(default_factory=list)  # actions seen (no secrets kept)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- test controls --------------------------------------------------------------------------------
    def add_app(self, app_id: str, app_key: str) -> None:
        with self._lock:
            self.apps[app_id] = app_key

    def add_carrier(self, barcode: str, verification_code: str) -> None:
        with self._lock:
            self.carriers[barcode] = verification_code

    def add_invoice(self, invoice: FakeInvoice) -> None:
        with self._lock:
            self.invoices[(invoice.number, invoice.day)] = invoice

    def set_status(self, number: str, day: date, status: Status) -> None:
        with self._lock:
            self.invoices[(number, day)].status = status

    # -- the protocol ---------------------------------------------------------------------------------
    def handle(self, params: dict[str, str], now_s: float | None = None) -> dict[str, Any]:
        now = time.time() if now_s is None else now_s
        with self._lock:
            self.requests.append(
                {
                    k: v
                    for k, v in params.items()
                    if k in ("action", "cardNo", "startDate", "endDate", "invNum")
                }
            )
            if self.down:
                return _refusal(500, "系統維護中")
            app_key = self.apps.get(params.get("appID", ""))
            if app_key is None or not signature_matches(app_key, params):
                return _refusal(401, "簽章驗證錯誤")
            try:
                stamp, expiry = int(params["timeStamp"]), int(params["expTimeStamp"])
            except (KeyError, ValueError):
                return _refusal(400, "參數錯誤")
            if abs(stamp - now) > CLOCK_SKEW_S or expiry < now:
                return _refusal(402, "時間戳記逾期")
            if params.get("cardType") != CARD_TYPE_MOBILE_BARCODE:
                return _refusal(400, "載具類別錯誤")
            barcode = params.get("cardNo", "")
            if self.carriers.get(barcode) is None or self.carriers[barcode] != params.get("cardEncrypt"):
                return _refusal(403, "手機條碼或驗證碼錯誤")
            action = params.get("action")
            if action == "carrierInvChk":
                return self._headers(barcode, params)
            if action == "carrierInvDetail":
                return self._detail(barcode, params)
            return _refusal(400, "action 錯誤")

    def _headers(self, barcode: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            start, end = _day(params["startDate"]), _day(params["endDate"])
        except (KeyError, ValueError):
            return _refusal(400, "日期格式錯誤")
        found = sorted(
            (i for i in self.invoices.values() if i.barcode == barcode and start <= i.day <= end),
            key=lambda i: (i.day, i.number),
        )
        return {
            "v": API_VERSION,
            "code": 200,
            "msg": "執行成功",
            "onlyWinningInv": params.get("onlyWinningInv", "N"),
            "details": [
                {
                    "rowNum": n,
                    "invNum": i.number,
                    "cardType": CARD_TYPE_MOBILE_BARCODE,
                    "cardNo": barcode,
                    "sellerName": i.seller_name,
                    "invStatus": STATUS_TEXT[i.status],
                    "invDonatable": False,
                    "amount": str(i.amount),
                    "invPeriod": _period(i.day),
                    "donateMark": 0,
                    "invDate": _roc_date(i.day),
                    "sellerBan": i.seller_tax_id,
                    "sellerAddress": "",
                    "invoiceTime": i.time_of_day,
                    "buyerBan": "",
                    "currency": "",
                }
                for n, i in enumerate(found, start=1)
            ],
        }

    def _detail(self, barcode: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            key = (params["invNum"], _day(params["invDate"]))
        except (KeyError, ValueError):
            return _refusal(400, "參數錯誤")
        invoice = self.invoices.get(key)
        if invoice is None or invoice.barcode != barcode:
            return _refusal(404, "查無此發票")
        items = invoice.items or [
            {
                "rowNum": "1",
                "description": "商品",
                "quantity": "1",
                "unitPrice": str(invoice.amount),
                "amount": str(invoice.amount),
            }
        ]
        return {
            "v": API_VERSION,
            "code": 200,
            "msg": "執行成功",
            "invNum": invoice.number,
            "invDate": invoice.day.strftime("%Y%m%d"),
            "sellerName": invoice.seller_name,
            "amount": str(invoice.amount),
            "invStatus": STATUS_TEXT[invoice.status],
            "invPeriod": _period(invoice.day),
            "details": items,
            "sellerBan": invoice.seller_tax_id,
            "sellerAddress": "",
            "invoiceTime": invoice.time_of_day,
            "currency": "",
        }


def _refusal(code: int, msg: str) -> dict[str, Any]:
    return {"v": API_VERSION, "code": code, "msg": msg}


def _day(text: str) -> date:
    return datetime.strptime(text, "%Y/%m/%d").date()


def _period(day: date) -> str:
    """The bimonthly period, ROC year + even month (``11402`` = Jan–Feb 2025)."""
    return f"{day.year - 1911}{day.month + day.month % 2:02d}"


# -- HTTP -------------------------------------------------------------------------------------------------
class CarrierIn(BaseModel):
    barcode: str = Field(min_length=8, max_length=8)
    verification_code: str = Field(min_length=1, max_length=64)


class InvoiceIn(BaseModel):
    barcode: str = Field(min_length=8, max_length=8)
    invoice_number: str = Field(pattern=r"^[A-Z]{2}\d{8}$")
    invoice_date: date
    seller_tax_id: str = Field(pattern=r"^\d{8}$")
    seller_name: str = Field(min_length=1, max_length=120)
    amount: int = Field(ge=0, description="TWD dollars.")


class OutageIn(BaseModel):
    down: bool


def create_fake_app(platform: FakePlatform) -> FastAPI:
    """The fake platform's HTTP API: the protocol endpoint and the test controls."""
    app = FastAPI(title="fake e-invoice platform", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/PB2CAPIVAN/invServ/InvServ")
    async def inv_serv(request: Request) -> JSONResponse:
        body = (await request.body()).decode("utf-8", errors="replace")
        return JSONResponse(platform.handle(dict(parse_qsl(body, keep_blank_values=True))))

    @app.post("/_fake/carriers", status_code=204)
    def add_carrier(body: CarrierIn) -> None:
        platform.add_carrier(body.barcode, body.verification_code)

    @app.post("/_fake/invoices", status_code=204)
    def add_invoice(body: InvoiceIn) -> None:
        platform.add_invoice(
            FakeInvoice(
                body.barcode,
                body.invoice_number,
                body.invoice_date,
                body.seller_tax_id,
                body.seller_name,
                body.amount,
            )
        )

    def _set(number: str, day: str, status: Status) -> JSONResponse:
        key = (number, datetime.strptime(day, "%Y%m%d").date())
        if key not in platform.invoices:
            return JSONResponse({"error": "not found"}, status_code=404)
        platform.set_status(*key, status)
        return JSONResponse({"status": status})

    @app.post("/_fake/invoices/{number}/{day}/void")
    def void(number: str, day: str) -> JSONResponse:
        return _set(number, day, "voided")

    @app.post("/_fake/invoices/{number}/{day}/return")
    def returned(number: str, day: str) -> JSONResponse:
        return _set(number, day, "returned")

    @app.put("/_fake/outage", status_code=204)
    def outage(body: OutageIn) -> None:
        platform.down = body.down

    return app


class DirectEInvoiceSource(HttpEInvoiceSource):
    """The fake platform called in-process (the demo app without a platform URL): the same signed
    parameters, no network."""

    def __init__(self, platform: FakePlatform, *, app_id: str, app_key: str) -> None:
        super().__init__("http://fake-einvoice.invalid", app_id=app_id, app_key=app_key, timeout_s=1.0)
        self.platform = platform

    def _post(self, params: dict[str, str]) -> dict[str, Any]:
        body = self.platform.handle(params)
        if not isinstance(body, dict):  # pragma: no cover - the fake always answers an object
            raise SourceError("unreadable platform answer")
        return body
