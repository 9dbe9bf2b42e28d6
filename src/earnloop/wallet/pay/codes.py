"""One-time pay codes: issuing one (a random 18-digit code, found by its SHA-256; optionally capped at
``max_amount``, what a charge may take from the wallet in its currency) and using one up for a charge
— one guarded UPDATE that also checks the cap, so a charge above it is refused, changes nothing and
leaves the code active. The charge itself is :func:`earnloop.wallet.pay.service.charge_pay_code`."""

from __future__ import annotations

import hashlib
import re
import secrets
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from earnloop.currencies import Currency, currency
from earnloop.ledger.service import LedgerService
from earnloop.wallet.errors import InvalidAmountError, NotFoundError
from earnloop.wallet.fx import service as fx
from earnloop.wallet.pay.errors import PayCodeExpiredError, PayCodeLimitError, PayCodeUsedError
from earnloop.wallet.pay.models import pay_codes
from earnloop.wallet.pay.orders import NS
from earnloop.wallet.pay.schemas import PayCode
from earnloop.wallet.service import require_wallet

PAY_CODE_TTL_S = 120
PAY_CODE_DIGITS = 18
PAY_CODE_RE = re.compile(rf"^[0-9]{{{PAY_CODE_DIGITS}}}$")


def code_digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def issue_pay_code(
    conn: Connection,
    ledger: LedgerService,
    *,
    user_id: int,
    currency_code: str,
    max_amount: int | None = None,
) -> PayCode:
    """A fresh one-time code for paying from the user's wallet in ``currency_code`` (shown once); with
    ``max_amount`` (minor units of that currency, > 0) a charge may take at most that much."""
    cur = require_wallet(conn, user_id, currency_code)
    if max_amount is not None and (
        not isinstance(max_amount, int) or isinstance(max_amount, bool) or not 0 < max_amount <= 1 << 62
    ):
        raise InvalidAmountError("max_amount must be a positive integer number of minor units")
    now = ledger.clock.now_ns()
    code = f"{secrets.randbelow(10**PAY_CODE_DIGITS):0{PAY_CODE_DIGITS}d}"
    expires = now + PAY_CODE_TTL_S * NS
    conn.execute(
        insert(pay_codes).values(
            code_sha256=code_digest(code),
            user_id=user_id,
            currency=cur.code,
            state="active",
            created_at_ns=now,
            expires_at_ns=expires,
            max_amount=max_amount,
        )
    )
    return {"code": code, "currency": cur.code, "expires_at_ns": expires, "max_amount": max_amount}


def use_code(conn: Connection, digest: str, now: int, charge: Currency, amount: int) -> Any:
    """Mark an active, unexpired pay code used (guarded; a capped code only when the charge of
    ``amount`` ``charge`` takes no more than its cap from the wallet); its row. A refusal changes
    nothing: the code stays usable for a smaller charge."""
    t = pay_codes.c
    found = conn.execute(select(pay_codes).where(t.code_sha256 == digest)).first()
    if found is None:
        raise NotFoundError("unknown pay code")
    within_cap = or_(t.max_amount.is_(None), t.max_amount >= _wallet_cost(conn, found, charge, amount, now))
    used = conn.execute(
        update(pay_codes)
        .where(t.id == found.id, t.state == "active", t.expires_at_ns > now, within_cap)
        .values(state="used", used_at_ns=now, code_sealed=None)
    )
    if used.rowcount != 1:
        current = conn.execute(select(t.state, t.expires_at_ns, t.max_amount).where(t.id == found.id)).one()
        if current.state == "used":
            raise PayCodeUsedError("this pay code was already used; ask the customer for a new one")
        if current.expires_at_ns <= now:
            raise PayCodeExpiredError("this pay code has expired; ask the customer for a new one")
        cap = f"{Decimal(current.max_amount).scaleb(-currency(found.currency).exponent)} {found.currency}"
        raise PayCodeLimitError(f"this pay code pays up to {cap}; the customer can show a new code for more")
    return found


def _wallet_cost(conn: Connection, code: Any, charge: Currency, amount: int, now: int) -> int:
    """What a charge of ``amount`` ``charge`` takes from the code's wallet (after FX); for a code without
    a cap the amount as it is (nothing to compare, no rate needed)."""
    wallet = currency(code.currency)
    if code.max_amount is None or wallet == charge:
        return amount
    return fx.payment_cost(conn, wallet, charge, amount, now).cost(amount)
