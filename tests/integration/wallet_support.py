"""Test support for wallets: a user's wallet funded through the ledger (an admin credit), shared by
the wallet, risk and web tests."""

from __future__ import annotations

import itertools

from sqlalchemy import Connection

from earnloop.auth.service import create_user
from earnloop.db.engine import Database
from earnloop.ledger.service import LedgerService
from earnloop.wallet import service

_SEQ = itertools.count()


def fund_wallet(
    conn: Connection, ledger: LedgerService, user_id: int, amount: int, currency: str = "TWD"
) -> None:
    """Open the user's wallet in ``currency`` (if not yet open) and credit it ``amount`` minor units."""
    service.open_wallet(conn, ledger, user_id, currency)
    service.adjust(
        conn,
        ledger,
        idempotency_key=f"fund-{user_id}-{currency}-{next(_SEQ)}",
        user_id=user_id,
        currency_code=currency,
        amount=amount,
        direction="credit",
        reason="test funds",
        actor="test",
    )


def funded_user(conn: Connection, ledger: LedgerService, handle: str, amount: int) -> int:
    """A new user ``handle`` with ``amount`` TWD minor units in the wallet; the user's id."""
    user_id = create_user(conn, handle).id
    fund_wallet(conn, ledger, user_id, amount)
    return user_id


def fund(db: Database, ledger: LedgerService, user_id: int, amount: int) -> None:
    """``fund_wallet`` in a unit of work of its own."""
    with db.uow() as conn:
        fund_wallet(conn, ledger, user_id, amount)
