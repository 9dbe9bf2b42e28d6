"""``earnloop einvoice bind|sync|receipts``: e-invoice carriers from the command line.

The platform is the configured one (``EARNLOOP_EINVOICE_API_URL``; unset: the fake served by
``earnloop serve`` at ``/fake-einvoice``). It is called outside write transactions, as in the API.
"""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Annotated

import typer

from earnloop.cli_support import EXPECTED_ERRORS, fail, ready_database
from earnloop.config import get_settings
from earnloop.einvoice import rewards, service
from earnloop.einvoice.cipher import cipher_from_settings
from earnloop.einvoice.errors import EInvoiceConfigError, EInvoiceError
from earnloop.einvoice.source import source_from_settings
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import build_engine

einvoice_app = typer.Typer(help="E-invoice carriers: bind, sync, receipts.", no_args_is_help=True)
UserId = Annotated[int, typer.Argument(min=1, help="User id.")]
ERRORS = (*EXPECTED_ERRORS, EInvoiceError, EInvoiceConfigError)


def _today() -> date:
    return service.taipei_today(time.time_ns())


@einvoice_app.command("bind")
def bind(
    user_id: UserId,
    barcode: Annotated[str, typer.Argument(help="Mobile barcode, e.g. /AB12+.-")],
    code: Annotated[
        str, typer.Option(help="Verification code (stored encrypted).", prompt=True, hide_input=True)
    ],
) -> None:
    """Verify a barcode / verification code pair with the platform and bind it to a user."""
    db = ready_database()
    try:
        settings = get_settings()
        source, cipher = source_from_settings(settings), cipher_from_settings(settings)
        value = service.verify_pair(source, barcode, code, _today())
        with db.uow() as conn:
            created = service.store_carrier(
                conn, cipher, user_id=user_id, barcode=value, verification_code=code, now_ns=time.time_ns()
            )
    except ERRORS as exc:
        fail(str(exc))
    finally:
        db.dispose()
    typer.echo(json.dumps(created))


@einvoice_app.command("sync")
def sync(carrier_id: Annotated[int, typer.Argument(min=1, help="Carrier id.")]) -> None:
    """Sync one carrier; prints the new and reversed receipts (exit 1 when the platform failed)."""
    db = ready_database()
    try:
        settings = get_settings()
        source, cipher = source_from_settings(settings), cipher_from_settings(settings)
        with db.uow(write=False) as conn:
            plan = service.collect(conn, source, cipher, carrier_id, _today())
        with db.uow() as conn:
            result = service.apply_sync(conn, plan, time.time_ns())
            ledger = LedgerService(SystemClock())
            result["rewards"] = rewards.reward_receipts(
                conn, ledger, result, risk=build_engine(settings, db=db)
            )
    except ERRORS as exc:
        fail(str(exc))
    finally:
        db.dispose()
    typer.echo(json.dumps(result))
    if result["status"] != "ok":
        fail(f"sync failed: {result['error']}")


@einvoice_app.command("receipts")
def receipts(user_id: UserId, limit: Annotated[int, typer.Option(min=1, max=service.LIST_MAX)] = 100) -> None:
    """A user's receipts, newest first, one JSON object per line."""
    db = ready_database()
    try:
        with db.uow(write=False) as conn:
            rows = service.receipts_for(conn, user_id, limit=limit)
    except ERRORS as exc:
        fail(str(exc))
    finally:
        db.dispose()
    for row in rows:
        typer.echo(json.dumps(row, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    app.add_typer(einvoice_app, name="einvoice")
