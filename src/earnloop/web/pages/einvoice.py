"""E-invoice: ``/app/einvoice`` — bind a mobile barcode carrier (checked with the platform first; a
refusal is shown in plain words and nothing is stored), the bound carriers with their sync status, the
synced receipts and the cashback each earned; "sync now" for one carrier. As the API does, the platform
is asked outside any write transaction (``einvoice.service.verify_pair`` / ``collect`` on the
threadpool), then a short write stores the carrier or the receipts and their rewards."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from earnloop.api.context import AppContext, run_read, run_write
from earnloop.api.types import Id
from earnloop.einvoice import rewards as einvoice_rewards
from earnloop.einvoice import service
from earnloop.einvoice.cipher import CodeCipher
from earnloop.einvoice.errors import EInvoiceError, SourceUnavailableError
from earnloop.einvoice.source import EInvoiceSource
from earnloop.wallet.cashback import service as cashback
from earnloop.web import rewards
from earnloop.web.session import SignedIn
from earnloop.web.templating import render

router = APIRouter()
SOURCE = service.REWARD_SOURCE
RECEIPTS_SHOWN = 100
NS_PER_S = 1_000_000_000
_REASONS = {"voided": rewards.INVOICE_VOIDED, "returned": rewards.INVOICE_RETURNED}
_NOTICES = {"bound", "synced", "sync-failed"}


def _platform(request: Request) -> tuple[EInvoiceSource, CodeCipher]:
    """The platform and the cipher the API installed (``api/einvoice.install``)."""
    source: EInvoiceSource | None = request.app.state.einvoice_source
    cipher: CodeCipher | None = request.app.state.einvoice_cipher
    if source is None or cipher is None:
        raise SourceUnavailableError("e-invoice is not configured")
    return source, cipher


def _view(conn: Connection, user_id: int, now_ns: int) -> dict[str, Any]:
    folded = rewards.fold(cashback.entries_of_user(conn, user_id, source=SOURCE))
    receipts = []
    for receipt in service.receipts_for(conn, user_id, limit=RECEIPTS_SHOWN):
        reward = folded.get(receipt["reward_ref"])
        if reward is not None:
            reason = _REASONS.get(receipt["status"], rewards.INVOICE_VOIDED)
            reward = rewards.explained(conn, SOURCE, reward, reason, now_ns)
        day = datetime.fromisoformat(receipt["invoice_date"]).replace(tzinfo=UTC)
        receipts.append({**receipt, "reward": reward, "invoice_date_ns": int(day.timestamp()) * NS_PER_S})
    return {"carriers": service.carriers_for(conn, user_id), "receipts": receipts}


async def _page(
    request: Request, user: SignedIn, *, error: str | None = None, barcode: str = "", status_code: int = 200
) -> Response:
    now_ns = user.ctx.ledger.clock.now_ns()
    view = await run_read(user.ctx, lambda conn: _view(conn, user.user_id, now_ns))
    notice = request.query_params.get("done")
    context = {
        "nav": "einvoice",
        **view,
        "error": error,
        "barcode": barcode,
        "notice": notice if notice in _NOTICES else None,
    }
    return render(request, "einvoice.html", context, status_code=status_code)


@router.get("/app/einvoice")
async def einvoice(request: Request, user: SignedIn) -> Response:
    return await _page(request, user)


@router.post("/app/einvoice/carriers")
async def bind(
    request: Request,
    user: SignedIn,
    barcode: Annotated[str, Form(max_length=64)] = "",
    verification_code: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Bind a carrier: the pair is verified with the platform, then stored (the code encrypted)."""
    ctx = user.ctx
    today = service.taipei_today(ctx.ledger.clock.now_ns())
    try:
        source, cipher = _platform(request)
        value = await run_in_threadpool(service.verify_pair, source, barcode, verification_code, today)
        await run_write(
            ctx,
            lambda conn: service.store_carrier(
                conn,
                cipher,
                user_id=user.user_id,
                barcode=value,
                verification_code=verification_code,
                now_ns=ctx.ledger.clock.now_ns(),
            ),
        )
    except EInvoiceError as exc:
        return await _page(request, user, error=exc.slug, barcode=barcode[:16], status_code=exc.status)
    return RedirectResponse("/app/einvoice?done=bound", status_code=303)


def _collect(
    ctx: AppContext, source: EInvoiceSource, cipher: CodeCipher, user_id: int, carrier_id: int
) -> Any:
    """Ask the platform for the carrier's invoices (a read transaction; the user's own carrier only)."""
    with ctx.db.uow(write=False) as conn:
        service.carrier_for_user(conn, user_id, carrier_id)
        today = service.taipei_today(ctx.ledger.clock.now_ns())
        return service.collect(conn, source, cipher, carrier_id, today)


@router.post("/app/einvoice/carriers/{carrier_id}/sync")
async def sync(request: Request, carrier_id: Id, user: SignedIn) -> Response:
    """Sync one carrier now: its new receipts earn cashback, voided or returned ones are reversed."""
    ctx = user.ctx
    try:
        source, cipher = _platform(request)
        plan = await run_in_threadpool(_collect, ctx, source, cipher, user.user_id, carrier_id)
    except EInvoiceError as exc:
        return await _page(request, user, error=exc.slug, status_code=exc.status)

    def write(conn: Connection) -> str:
        result = service.apply_sync(conn, plan, ctx.ledger.clock.now_ns())
        einvoice_rewards.reward_receipts(conn, ctx.ledger, result, risk=ctx.risk)
        return str(result["status"])

    status = await run_write(ctx, write)
    return RedirectResponse(
        f"/app/einvoice?done={'synced' if status == 'ok' else 'sync-failed'}", status_code=303
    )
