"""``/v1/me/einvoice``: bind mobile barcode carriers, sync them, see their sync status and receipts.

Without ``EARNLOOP_EINVOICE_API_URL`` the app serves the fake e-invoice platform itself at
``/fake-einvoice`` (demo) and calls it in-process with the same signed parameters; with it, the platform
is reached over HTTP. The platform is never called inside a write transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, Field

from earnloop.api.deps import User
from earnloop.api.problems import problem_responses
from earnloop.api.types import Id
from earnloop.config import Settings
from earnloop.einvoice import rewards, service
from earnloop.einvoice.cipher import CodeCipher, app_key_from_settings, cipher_from_settings
from earnloop.einvoice.errors import SourceUnavailableError
from earnloop.einvoice.fake_api import DirectEInvoiceSource, FakePlatform, create_fake_app
from earnloop.einvoice.source import FAKE_EINVOICE_PATH, EInvoiceSource, source_from_settings
from earnloop.wallet.schemas import Strict, from_ns

router = APIRouter(
    prefix="/v1/me/einvoice", tags=["einvoice"], responses=problem_responses(401, 404, 409, 422, 503)
)


def install(app: FastAPI, settings: Settings) -> None:
    """Routes, cipher and platform (the configured URL, or the in-app fake).

    Production without ``EARNLOOP_EINVOICE_API_URL`` leaves the feature off (its routes answer 503);
    with it, ``EARNLOOP_EINVOICE_KEY`` and ``EARNLOOP_EINVOICE_APP_KEY`` are required (startup fails).
    """
    app.state.einvoice_source = None
    app.state.einvoice_cipher = None
    app.include_router(router)

    if settings.environment == "production" and not settings.einvoice_api_url:
        return
    source: EInvoiceSource
    cipher = cipher_from_settings(settings)
    if settings.einvoice_api_url:
        source = source_from_settings(settings)
    else:
        app_key = app_key_from_settings(settings)
        platform = FakePlatform()
        platform.add_app(settings.einvoice_app_id, app_key)
        app.mount(FAKE_EINVOICE_PATH, create_fake_app(platform))
        source = DirectEInvoiceSource(platform, app_id=settings.einvoice_app_id, app_key=app_key)
        app.state.einvoice_fake = platform
    app.state.einvoice_source = source
    app.state.einvoice_cipher = cipher


def _source(request: Request) -> EInvoiceSource:
    source: EInvoiceSource | None = request.app.state.einvoice_source
    if source is None:
        raise SourceUnavailableError("e-invoice is not configured (EARNLOOP_EINVOICE_API_URL)")
    return source


def _cipher(request: Request) -> CodeCipher:
    cipher: CodeCipher | None = request.app.state.einvoice_cipher
    if cipher is None:
        raise SourceUnavailableError("e-invoice is not configured (EARNLOOP_EINVOICE_KEY)")
    return cipher


# -- shapes --------------------------------------------------------------------------------------------
class CarrierIn(Strict):
    barcode: str = Field(min_length=1, max_length=16, description="`/` + 7 of `0-9A-Z.+-`, e.g. `/AB12+.-`.")
    verification_code: str = Field(
        min_length=1, max_length=64, description="Checked with the platform; stored encrypted, never shown."
    )


class CarrierOut(BaseModel):
    carrier_id: int
    barcode: str
    status: str = Field(description="active, or rejected (the platform refused the code: bind again).")
    last_synced_date: date | None
    last_sync_status: str = Field(description="never, ok or error.")
    last_sync_at: datetime | None
    last_error: str | None = Field(description="Why the last sync failed (kept until one succeeds).")

    @classmethod
    def of(cls, c: dict[str, Any]) -> CarrierOut:
        at = c["last_sync_at_ns"]
        return cls(
            **{k: v for k, v in c.items() if k not in ("user_id", "last_sync_at_ns")},
            last_sync_at=from_ns(at) if at is not None else None,
        )


class ReceiptOut(BaseModel):
    receipt_id: int
    carrier_id: int
    invoice_number: str
    invoice_date: date
    seller_tax_id: str
    seller_name: str
    currency: str
    amount: int = Field(description="Minor units.")
    status: str = Field(description="issued, voided or returned.")


class SyncOut(BaseModel):
    carrier: CarrierOut
    status: str = Field(description="ok or error (recorded on the carrier).")
    error: str | None
    new: list[ReceiptOut] = Field(description="Receipts from partner sellers earn cashback (pending).")
    reversed: list[ReceiptOut] = Field(description="Voided or returned: their cashback is reversed.")


def _receipt(r: dict[str, Any]) -> ReceiptOut:
    return ReceiptOut(**{k: v for k, v in r.items() if k not in ("user_id", "reward_ref")})


# -- routes --------------------------------------------------------------------------------------------
@router.post("/carriers", response_model=CarrierOut, status_code=201)
def bind_carrier(body: CarrierIn, user: User, request: Request) -> CarrierOut:
    """Bind a mobile barcode carrier; the pair is verified with the e-invoice platform first."""
    ctx = user.ctx
    now_ns = ctx.ledger.clock.now_ns()
    barcode = service.verify_pair(
        _source(request), body.barcode, body.verification_code, service.taipei_today(now_ns)
    )
    with ctx.db.uow() as conn:
        created = service.store_carrier(
            conn,
            _cipher(request),
            user_id=user.user_id,
            barcode=barcode,
            verification_code=body.verification_code,
            now_ns=now_ns,
        )
    return CarrierOut.of(created)


@router.get("/carriers", response_model=list[CarrierOut])
def list_carriers(user: User) -> list[CarrierOut]:
    """The user's carriers with their sync status and last error."""
    with user.ctx.db.uow(write=False) as conn:
        return [CarrierOut.of(c) for c in service.carriers_for(conn, user.user_id)]


@router.get("/carriers/{carrier_id}", response_model=CarrierOut)
def show_carrier(carrier_id: Id, user: User) -> CarrierOut:
    with user.ctx.db.uow(write=False) as conn:
        return CarrierOut.of(service.carrier_for_user(conn, user.user_id, carrier_id))


@router.post("/carriers/{carrier_id}/sync", response_model=SyncOut)
def sync_carrier(carrier_id: Id, user: User, request: Request) -> SyncOut:
    """Fetch the carrier's new invoices and status changes. A platform failure is answered (200, status
    `error`) and recorded on the carrier."""
    ctx = user.ctx
    with ctx.db.uow(write=False) as conn:
        service.carrier_for_user(conn, user.user_id, carrier_id)
        plan = service.collect(
            conn,
            _source(request),
            _cipher(request),
            carrier_id,
            service.taipei_today(ctx.ledger.clock.now_ns()),
        )
    with ctx.db.uow() as conn:
        result = service.apply_sync(conn, plan, ctx.ledger.clock.now_ns())
        rewards.reward_receipts(conn, ctx.ledger, result, risk=ctx.risk)
        carrier = service.carrier_for_user(conn, user.user_id, carrier_id)
    return SyncOut(
        carrier=CarrierOut.of(carrier),
        status=result["status"],
        error=result["error"],
        new=[_receipt(r) for r in result["new"]],
        reversed=[_receipt(r) for r in result["reversed"]],
    )


@router.get("/receipts", response_model=list[ReceiptOut])
def list_receipts(
    user: User, limit: Annotated[int, Query(ge=1, le=service.LIST_MAX)] = 100
) -> list[ReceiptOut]:
    """The user's receipts, newest invoice first."""
    with user.ctx.db.uow(write=False) as conn:
        return [_receipt(r) for r in service.receipts_for(conn, user.user_id, limit=limit)]
