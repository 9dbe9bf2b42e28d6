"""Multi-currency: one ledger per currency; conversions are linked transfers through the platform's FX
position accounts, at the latest rate of the ``fx_rates`` table, minus a configured spread.

- A rate says: 1 ``base`` (major unit) = ``rate`` ``quote`` (major units), from ``valid_from`` on. It is
  an exact decimal string; arithmetic uses :class:`fractions.Fraction` — never floats.
- A conversion A → B uses the newest row at or before now of either (A, B) or (B, A) (inverted).
- Amounts are rounded in the platform's favour: what the user receives is floored, what the user pays
  for a fixed amount on the other side (a payment in a foreign currency) is ceiled.
- ``convert``: ``user[A] → FX_POSITION[A]`` and ``FX_POSITION[B] → user[B]``, linked (all or nothing).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, cast

from sqlalchemy import Connection, and_, insert, or_, select
from sqlalchemy.exc import IntegrityError

from earnloop.currencies import Currency, currency
from earnloop.idempotency import service as idem
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import Transfer, TransferFlags
from earnloop.wallet.chart import AccountKind, AccountRef, TransferKind, transfer_id
from earnloop.wallet.errors import InvalidAmountError, StateConflictError, WalletError
from earnloop.wallet.fx.models import fx_conversions, fx_rates
from earnloop.wallet.fx.schemas import Conversion, QuoteAmounts, Rate
from earnloop.wallet.ledger_ops import ensure_accounts, submit
from earnloop.wallet.service import (
    check_amount,
    open_wallet,
    require_wallet,
    system_account,
    user_account,
)

BPS = 10_000
DEFAULT_SPREAD_BPS = 100
SPREAD_MAX_BPS = 5_000
AMOUNT_LIMIT = 1 << 62
RATE_RE = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,12})?$")
RATES_PAGE_MAX = 200


class FxRateUnavailableError(WalletError):
    status = 422
    slug = "fx-rate-unavailable"
    title = "No exchange rate for this currency pair"


@dataclass(frozen=True, slots=True)
class Quote:
    """The rate that applies to a conversion ``source`` → ``target`` (both ways of a stored row)."""

    rate_id: int
    source: Currency
    target: Currency
    rate: Fraction  # major units of target per major unit of source, before the spread
    spread_bps: int
    valid_from_ns: int

    @property
    def factor(self) -> Fraction:
        """Minor units of target per minor unit of source, spread deducted."""
        scale = Fraction(10) ** (self.target.exponent - self.source.exponent)
        return self.rate * scale * Fraction(BPS - self.spread_bps, BPS)

    def receive(self, amount: int) -> int:
        """What ``amount`` of source converts into (floored: the platform keeps the remainder)."""
        return _floor(amount * self.factor)

    def cost(self, amount: int) -> int:
        """What it takes in source to receive at least ``amount`` of target (ceiled)."""
        return -_floor(-Fraction(amount) / self.factor)


def _floor(value: Fraction) -> int:
    return value.numerator // value.denominator


def parse_rate(text: str) -> Fraction:
    """An exact positive decimal (up to 12 digits each side of the point) → a fraction."""
    if not isinstance(text, str) or not RATE_RE.match(text):
        raise InvalidAmountError("rate must be a decimal string such as '31.52' (no exponent, no sign)")
    value = Fraction(text)
    if value <= 0:
        raise InvalidAmountError("rate must be greater than zero")
    return value


def _rate_text(value: Fraction) -> str:
    """The canonical decimal text of a stored rate (strips trailing zeros)."""
    whole, rest = divmod(value.numerator, value.denominator)
    digits = ""
    while rest and len(digits) < 12:
        rest *= 10
        digit, rest = divmod(rest, value.denominator)
        digits += str(digit)
    return f"{whole}.{digits}" if digits else str(whole)


def _rate_dict(row: Any) -> Rate:
    return {
        "rate_id": row.id,
        "base": row.base,
        "quote": row.quote,
        "rate": row.rate,
        "spread_bps": row.spread_bps,
        "valid_from_ns": row.valid_from_ns,
    }


def set_rate(
    conn: Connection,
    *,
    base: str,
    quote: str,
    rate: str,
    valid_from_ns: int,
    spread_bps: int = DEFAULT_SPREAD_BPS,
    actor: str = "admin",
) -> Rate:
    """Record a rate that applies from ``valid_from_ns``. The same row again is harmless; a different
    rate for the same pair and instant is a conflict (rates are history, never edited)."""
    src, dst = currency(base), currency(quote)
    if src == dst:
        raise InvalidAmountError("base and quote must differ")
    text = _rate_text(parse_rate(rate))
    if not isinstance(spread_bps, int) or not 0 <= spread_bps <= SPREAD_MAX_BPS:
        raise InvalidAmountError(f"spread_bps must be 0–{SPREAD_MAX_BPS}")
    if not isinstance(valid_from_ns, int) or not 0 <= valid_from_ns < 1 << 63:
        raise InvalidAmountError("valid_from must be a Unix time in nanoseconds")
    where = and_(
        fx_rates.c.base == src.code, fx_rates.c.quote == dst.code, fx_rates.c.valid_from_ns == valid_from_ns
    )
    try:
        with conn.begin_nested():
            conn.execute(
                insert(fx_rates).values(
                    base=src.code,
                    quote=dst.code,
                    rate=text,
                    spread_bps=spread_bps,
                    valid_from_ns=valid_from_ns,
                    created_at_ns=time.time_ns(),
                    actor=actor[:120],
                )
            )
    except IntegrityError:
        pass  # an existing row for this pair and instant: compared below
    row = conn.execute(select(fx_rates).where(where)).one()
    if (row.rate, row.spread_bps) != (text, spread_bps):
        raise StateConflictError(
            f"a different {src.code}/{dst.code} rate already applies from {valid_from_ns}"
        )
    return _rate_dict(row)


def list_rates(conn: Connection, *, limit: int = 50) -> list[Rate]:
    """Rates, newest first per pair."""
    rows = conn.execute(
        select(fx_rates)
        .order_by(fx_rates.c.base, fx_rates.c.quote, fx_rates.c.valid_from_ns.desc())
        .limit(max(1, min(limit, RATES_PAGE_MAX)))
    )
    return [_rate_dict(r) for r in rows]


def current_quote(conn: Connection, source: Currency, target: Currency, now_ns: int) -> Quote:
    """The newest rate at or before ``now_ns`` for source → target (a stored row, or its inverse)."""
    if source == target:
        raise InvalidAmountError("the currencies must differ")
    row = conn.execute(
        select(fx_rates)
        .where(
            or_(
                and_(fx_rates.c.base == source.code, fx_rates.c.quote == target.code),
                and_(fx_rates.c.base == target.code, fx_rates.c.quote == source.code),
            ),
            fx_rates.c.valid_from_ns <= now_ns,
        )
        .order_by(fx_rates.c.valid_from_ns.desc(), fx_rates.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise FxRateUnavailableError(f"no {source.code}/{target.code} rate is in force")
    rate = Fraction(row.rate)
    return Quote(
        rate_id=row.id,
        source=source,
        target=target,
        rate=rate if row.base == source.code else 1 / rate,
        spread_bps=row.spread_bps,
        valid_from_ns=row.valid_from_ns,
    )


def _in_range(amount: int, what: str) -> int:
    if amount < 1:
        raise InvalidAmountError(f"{what} is too small to convert (less than one minor unit)")
    if amount > AMOUNT_LIMIT:
        raise InvalidAmountError(f"{what} is too large")
    return amount


def quote_amounts(
    conn: Connection, *, from_currency: str, to_currency: str, amount: int, now_ns: int
) -> QuoteAmounts:
    """What ``amount`` of ``from_currency`` would convert into now (no money moves)."""
    check_amount(amount)
    q = current_quote(conn, currency(from_currency), currency(to_currency), now_ns)
    return {
        "from_currency": q.source.code,
        "to_currency": q.target.code,
        "amount_from": amount,
        "amount_to": _in_range(q.receive(amount), "the converted amount"),
        "rate_id": q.rate_id,
        "rate": _rate_text(q.rate),
        "spread_bps": q.spread_bps,
    }


def payment_cost(conn: Connection, source: Currency, target: Currency, amount: int, now_ns: int) -> Quote:
    """The quote for paying ``amount`` of ``target`` from a ``source`` wallet (cost via ``Quote.cost``)."""
    q = current_quote(conn, source, target, now_ns)
    _in_range(q.cost(amount), "the amount in the wallet currency")
    return q


def convert(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    user_id: int,
    from_currency: str,
    to_currency: str,
    amount: int,
) -> Conversion:
    """Convert ``amount`` (minor units of ``from_currency``) of the user's money into ``to_currency``."""
    request = {"from_currency": from_currency, "to_currency": to_currency, "amount": amount}
    scope = f"fx.convert:u{user_id}"
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        return cast(Conversion, replay)
    check_amount(amount)
    source = require_wallet(conn, user_id, from_currency)
    target = currency(to_currency)
    q = current_quote(conn, source, target, ledger.clock.now_ns())
    received = _in_range(q.receive(amount), "the converted amount")
    open_wallet(conn, ledger, user_id, target.code)
    step = (scope, idempotency_key)
    _exchange(
        conn, ledger, step, user_account(user_id, source), user_account(user_id, target), q, amount, received
    )
    conversion_id = conn.execute(
        insert(fx_conversions)
        .values(
            user_id=user_id,
            from_currency=source.code,
            to_currency=target.code,
            amount_from=amount,
            amount_to=received,
            rate_id=q.rate_id,
            idempotency_key=idempotency_key,
            created_at_ns=time.time_ns(),
        )
        .returning(fx_conversions.c.id)
    ).scalar_one()
    answer: Conversion = {
        "conversion_id": int(conversion_id),
        "user_id": user_id,
        "from_currency": source.code,
        "to_currency": target.code,
        "amount_from": amount,
        "amount_to": received,
        "rate_id": q.rate_id,
        "rate": _rate_text(q.rate),
        "spread_bps": q.spread_bps,
    }
    return idem.complete(conn, scope, idempotency_key, answer)


def _exchange(
    conn: Connection,
    ledger: LedgerService,
    step: tuple[str, str],
    user_from: AccountRef,
    user_to: AccountRef,
    q: Quote,
    amount: int,
    received: int,
) -> None:
    """The conversion's linked pair: the user's ``amount`` out to the platform's FX position in the source
    currency, ``received`` in from its position in the target currency — both or neither."""
    source, target = user_from.currency, user_to.currency
    position_from = system_account(AccountKind.FX_POSITION, source)
    position_to = system_account(AccountKind.FX_POSITION, target)
    ensure_accounts(conn, ledger, [position_from, position_to])
    submit(
        conn,
        ledger,
        [
            Transfer(
                id=transfer_id(*step, "out"),
                debit_account_id=user_from.id,
                credit_account_id=position_from.id,
                amount=amount,
                ledger=source.ledger,
                code=int(TransferKind.FX_OUT),
                flags=TransferFlags.LINKED,
                user_data_64=q.rate_id,
            ),
            Transfer(
                id=transfer_id(*step, "in"),
                debit_account_id=position_to.id,
                credit_account_id=user_to.id,
                amount=received,
                ledger=target.ledger,
                code=int(TransferKind.FX_IN),
                user_data_64=q.rate_id,
            ),
        ],
    )
