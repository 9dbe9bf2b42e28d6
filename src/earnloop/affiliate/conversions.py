"""Conversion updates: the one path by which a merchant's postback or a report row changes an order.

An update is (order id, click id, status, order amount, currency, category, event time). Its identity
(merchant, order id, status, amount) is claimed first: the same update again gets the first reply and
changes nothing. Then, with the conversion row locked:

- a new order binds to the recorded click of this merchant; ``pending``/``approved`` price the reward
  (``price_reward`` on the order amount: the partner-funded base plus campaign bonuses, each bonus under
  its cap and budget) and credit it pending until the merchant's lock period has passed; the worker's
  ``cashback.confirm_due`` then pays it. An order first seen ``declined``/``reversed`` pays nothing.
- statuses only move forward: pending → approved → declined | reversed (rank 0, 1, 2); a backward move
  is rejected (``status_backwards``) and a closed order stays closed.
- ``declined``/``reversed`` cancel every part of the reward (``cashback.reverse``: void while pending,
  clawback with debt once paid); a lower order amount (partial refund) scales every part to
  ``first part × new amount // first amount`` (``cashback.adjust_down``); a higher amount is rejected.

Everything an update writes happens in a savepoint: a rejected update leaves no trace but its request
record, and does not claim its identity (a partner's retry is judged again).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from earnloop.affiliate.errors import UpdateRejected
from earnloop.affiliate.models import affiliate_clicks as clicks
from earnloop.affiliate.models import affiliate_conversions as conversions
from earnloop.affiliate.models import affiliate_reward_parts as parts
from earnloop.affiliate.models import affiliate_updates as claims
from earnloop.catalog import service as catalog
from earnloop.catalog.errors import CatalogError
from earnloop.catalog.service import AMOUNT_MAX, Pricing, price_reward
from earnloop.db.upsert import dialect_insert
from earnloop.earn.bonuses import RewardTarget, bonus_ref, pay_bonus
from earnloop.ledger.service import LedgerService
from earnloop.risk import reviews
from earnloop.risk.engine import RiskEngine
from earnloop.risk.events import EntityKey, RiskEvent
from earnloop.risk.keys import address_keys, click_attrs
from earnloop.risk.screening import ScreenResult, observe, screen
from earnloop.tracking.service import Reply
from earnloop.wallet.cashback import service as cashback

SOURCE = "shopping"
DAY_NS = 86_400 * 10**9
RANK = {"pending": 0, "approved": 1, "declined": 2, "reversed": 2}
CLOSED = frozenset({"declined", "reversed"})
FIELDS = ("order_id", "click_id", "status", "order_amount", "currency", "category", "event_time")
PROBLEM_TYPE = "https://earnloop.dev/problems/affiliate-update-rejected"
PROBLEM_CONTENT_TYPE = "application/problem+json"
# Reason code → HTTP status. Verification failures say "do not retry"; business rejections are 422.
_STATUS = {
    "bad_signature": 403,
    "stale_timestamp": 403,
    "malformed": 400,
    "missing_field": 400,
    "unknown_merchant": 404,
    "not_configured": 503,
    "risk_denied": 403,  # final: the update keeps this reply, a retry gets it again
}
RISK_DENIED = "risk_denied"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Reward status shown to users, from the cashback entry's status.
_REWARD_STATUS = {"pending": "pending", "confirmed": "paid", "reversed": "void", "clawed_back": "clawed_back"}


@dataclass(frozen=True)
class ConversionUpdate:
    order_id: str
    click_id: str
    status: str
    order_amount: int
    currency: str
    category: str | None
    event_at_ns: int


@dataclass(frozen=True)
class Outcome:
    """What became of one update: accepted | duplicate | rejected, and the reply (the first one, verbatim,
    for a duplicate)."""

    outcome: str
    reply: Reply
    reason_code: str | None = None
    message: str | None = None


# -- parsing ------------------------------------------------------------------------------------------
def _text(data: Mapping[str, object], name: str, max_len: int, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise UpdateRejected("missing_field", f"{name} is missing")
        return None
    if not isinstance(value, str):
        raise UpdateRejected("malformed", f"{name} must be a string")
    if len(value) > max_len or value != value.strip():
        raise UpdateRejected("malformed", f"{name}: at most {max_len} characters, no surrounding spaces")
    return value


def _minor_units(data: Mapping[str, object]) -> int:
    value = data.get("order_amount")
    if value is None or value == "":
        raise UpdateRejected("missing_field", "order_amount is missing")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= AMOUNT_MAX:
        raise UpdateRejected("malformed", "order_amount must be an integer number of minor units ≥ 0")
    return value


def _instant_ns(data: Mapping[str, object]) -> int:
    text = _text(data, "event_time", 40)
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        raise UpdateRejected("malformed", "event_time must be an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise UpdateRejected("malformed", "event_time needs a UTC offset (e.g. Z)")
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def parse_update(data: Mapping[str, object]) -> ConversionUpdate:
    """Validate one update's fields (a postback's JSON object or a report row's cells)."""
    status = _text(data, "status", 16)
    if status not in RANK:
        raise UpdateRejected("malformed", f"status must be one of {', '.join(RANK)}")
    amount = _minor_units(data)
    if amount == 0 and status not in CLOSED:
        raise UpdateRejected("malformed", "order_amount must be > 0 for a pending or approved order")
    currency = str(_text(data, "currency", 3))
    if not (len(currency) == 3 and currency.isascii() and currency.isupper()):
        raise UpdateRejected("malformed", "currency must be an ISO 4217 code like TWD")
    return ConversionUpdate(
        order_id=str(_text(data, "order_id", 200)),
        click_id=str(_text(data, "click_id", 64)),
        status=status,
        order_amount=amount,
        currency=currency,
        category=_text(data, "category", 32, required=False),
        event_at_ns=_instant_ns(data),
    )


def rejection(code: str, message: str) -> Reply:
    status = _STATUS.get(code, 422)
    body = {
        "type": PROBLEM_TYPE,
        "title": "Conversion update rejected",
        "status": status,
        "detail": message,
        "reason_code": code,
    }
    return Reply(status, PROBLEM_CONTENT_TYPE, json.dumps(body).encode())


def rejected(code: str, message: str) -> Outcome:
    return Outcome("rejected", rejection(code, message), code, message)


# -- applying -----------------------------------------------------------------------------------------
def apply_update(
    conn: Connection,
    ledger: LedgerService,
    *,
    merchant_id: int,
    change: ConversionUpdate,
    now_ns: int,
    risk: RiskEngine,
) -> Outcome:
    """Apply one validated update for an existing merchant (see the module docstring). Never commits.
    A new order the risk engine denies is kept (with its decision) but pays nothing, and is answered
    403 ``risk_denied``, the update's reply from then on."""
    try:
        with conn.begin_nested():
            claim_id = _claim(conn, merchant_id, change, now_ns)
            if claim_id is None:
                return Outcome("duplicate", _first_reply(conn, merchant_id, change))
            answer = _apply(conn, ledger, merchant_id, change, now_ns, risk)
            if isinstance(answer, ScreenResult):
                message = f"refused by risk screening ({' '.join(answer.reasons)})"
                outcome = rejected(RISK_DENIED, message)
            else:
                outcome = Outcome("accepted", Reply(200, "application/json", json.dumps(answer).encode()))
            reply = outcome.reply
            conn.execute(
                update(claims)
                .where(claims.c.id == claim_id)
                .values(
                    reply_status=reply.status, reply_content_type=reply.content_type, reply_body=reply.body
                )
            )
            return outcome
    except UpdateRejected as exc:
        return rejected(exc.code, exc.message)


def reward_ref(merchant_id: int, order_id: str) -> str:
    """The cashback reference of an order's base reward (bonuses append ``:bonus:<campaign id>``);
    the order id is hashed when long, so that every reference fits the 200-character column."""
    if len(order_id) > 100:
        order_id = "sha256:" + hashlib.sha256(order_id.encode()).hexdigest()
    return f"affiliate:{merchant_id}:{order_id}"


def _identity(merchant_id: int, change: ConversionUpdate) -> tuple[Any, ...]:
    return (
        claims.c.merchant_id == merchant_id,
        claims.c.order_id == change.order_id,
        claims.c.status == change.status,
        claims.c.order_amount == change.order_amount,
    )


def _claim(conn: Connection, merchant_id: int, change: ConversionUpdate, now_ns: int) -> int | None:
    """Claim the update's identity; ``None`` when it was claimed before (on PostgreSQL a concurrent
    duplicate waits here until the first one commits)."""
    row = conn.execute(
        dialect_insert(conn, claims)
        .values(
            merchant_id=merchant_id,
            order_id=change.order_id,
            status=change.status,
            order_amount=change.order_amount,
            reply_status=0,
            reply_content_type="",
            reply_body=b"",
            created_at_ns=now_ns,
        )
        .on_conflict_do_nothing()
        .returning(claims.c.id)
    ).first()
    return None if row is None else int(row.id)


def _first_reply(conn: Connection, merchant_id: int, change: ConversionUpdate) -> Reply:
    first = conn.execute(select(claims).where(*_identity(merchant_id, change))).one()
    return Reply(first.reply_status, first.reply_content_type, bytes(first.reply_body))


def _locked(conn: Connection, merchant_id: int, order_id: str) -> Any:
    return conn.execute(
        select(conversions)
        .where(conversions.c.merchant_id == merchant_id, conversions.c.order_id == order_id)
        .with_for_update()
    ).first()


def _apply(
    conn: Connection,
    ledger: LedgerService,
    merchant_id: int,
    change: ConversionUpdate,
    now_ns: int,
    risk: RiskEngine,
) -> dict[str, Any] | ScreenResult:
    """The answer to the update, or the risk decision that denied a new order."""
    merchant = catalog.get_merchant(conn, merchant_id)
    if change.currency != merchant["currency"]:
        raise UpdateRejected(
            "currency_mismatch", f"merchant {merchant_id} converts in {merchant['currency']}"
        )
    row = _locked(conn, merchant_id, change.order_id)
    if row is None:
        opened = _open(conn, merchant, change, now_ns, risk)
        if opened is not None:
            conversion_id, decision = opened
            if decision.outcome == "deny":
                return decision
            if change.status not in CLOSED:
                _credit(conn, ledger, conversion_id, merchant, change)
                _hold_for_review(conn, conversion_id, decision, now_ns)
            return _answer(conn, merchant_id, change.order_id)
        row = _locked(conn, merchant_id, change.order_id)  # opened concurrently: advance it instead
    _advance(conn, ledger, row, change, now_ns, risk)
    return _answer(conn, merchant_id, change.order_id)


def _conversion_event(
    click: Any, merchant_id: int, change: ConversionUpdate, ref: str, now_ns: int
) -> RiskEvent:
    keys: dict[EntityKey, str] = {"user": str(click.user_id), **address_keys(click.client_ip)}
    keys["offer"] = keys["partner"] = f"merchant:{merchant_id}"
    attrs = click_attrs(int(click.created_at_ns), str(click.user_agent), now_ns)
    return RiskEvent(
        "conversion", f"{SOURCE}:{ref}", now_ns, change.order_amount, change.currency, keys, attrs
    )


def _hold_for_review(conn: Connection, conversion_id: int, decision: ScreenResult, now_ns: int) -> None:
    if decision.outcome != "review":
        return
    row = conn.execute(select(conversions).where(conversions.c.id == conversion_id)).one()
    reviews.hold(
        conn,
        event_ref=f"{SOURCE}:{row.reward_ref}",
        source=SOURCE,
        reward_ref=row.reward_ref,
        user_id=int(row.user_id),
        reasons=decision.reasons,
        now_ns=now_ns,
    )


def _open(
    conn: Connection, merchant: dict[str, Any], change: ConversionUpdate, now_ns: int, risk: RiskEngine
) -> tuple[int, ScreenResult] | None:
    """Insert the conversion of a new order, bound to its click and screened; ``None`` if it exists
    meanwhile."""
    click = conn.execute(select(clicks).where(clicks.c.click_id == change.click_id)).first()
    if click is None:
        raise UpdateRejected("unknown_click", "no click with this id")
    if click.merchant_id != merchant["merchant_id"]:
        raise UpdateRejected("click_mismatch", "the click was on another merchant")
    ref = reward_ref(merchant["merchant_id"], change.order_id)
    decision = screen(conn, risk, _conversion_event(click, merchant["merchant_id"], change, ref, now_ns))
    row = conn.execute(
        dialect_insert(conn, conversions)
        .values(
            merchant_id=merchant["merchant_id"],
            order_id=change.order_id,
            click_id=click.click_id,
            user_id=click.user_id,
            currency=change.currency,
            category=change.category,
            status=change.status,
            first_amount=change.order_amount,
            order_amount=change.order_amount,
            reward_ref=ref,
            # The purchase happened after the click and not in the future: campaigns apply as of then.
            event_at_ns=min(max(change.event_at_ns, click.created_at_ns), now_ns),
            release_at_ns=now_ns + merchant["lock_period_days"] * DAY_NS,
            risk_decision=decision.outcome,
            risk_strategy_version=decision.strategy_version[:40],
            created_at_ns=now_ns,
            updated_at_ns=now_ns,
        )
        .on_conflict_do_nothing()
        .returning(conversions.c.id)
    ).first()
    return None if row is None else (int(row.id), decision)


def _credit(
    conn: Connection,
    ledger: LedgerService,
    conversion_id: int,
    merchant: dict[str, Any],
    change: ConversionUpdate,
) -> None:
    row = conn.execute(select(conversions).where(conversions.c.id == conversion_id)).one()
    try:
        pricing = price_reward(
            conn,
            ledger,
            user_id=row.user_id,
            at_ns=row.event_at_ns,
            merchant_id=merchant["merchant_id"],
            base_amount=change.order_amount,
            category=change.category,
        )
    except CatalogError as exc:
        raise UpdateRejected("no_rate", str(exc)) from None
    if pricing.base_amount > 0:
        _pay_part(
            conn, ledger, row, "base", row.reward_ref, pricing.base_amount, pricing.base_funding, pricing
        )
    target = RewardTarget(SOURCE, row.reward_ref, row.user_id, pricing.currency, row.release_at_ns)
    for bonus in pricing.bonuses:
        paid = pay_bonus(conn, ledger, target, bonus)
        if paid > 0:
            _record_part(
                conn, row.id, f"bonus:{bonus.campaign_id}", bonus_ref(row.reward_ref, bonus.campaign_id), paid
            )


def _pay_part(
    conn: Connection,
    ledger: LedgerService,
    row: Any,
    part: str,
    ref: str,
    amount: int,
    funding: cashback.Funding,
    pricing: Pricing,
) -> None:
    cashback.credit_pending(
        conn,
        ledger,
        source=SOURCE,
        ref=ref,
        user_id=row.user_id,
        currency_code=pricing.currency,
        amount=amount,
        release_at_ns=row.release_at_ns,
        funding=funding,
    )
    _record_part(conn, row.id, part, ref, amount)


def _record_part(conn: Connection, conversion_id: int, part: str, ref: str, amount: int) -> None:
    conn.execute(insert(parts).values(conversion_id=conversion_id, part=part, ref=ref, first_amount=amount))


def _advance(
    conn: Connection, ledger: LedgerService, row: Any, change: ConversionUpdate, now_ns: int, risk: RiskEngine
) -> None:
    if change.click_id != row.click_id:
        raise UpdateRejected("click_mismatch", "the order was converted on another click")
    if RANK[change.status] < RANK[row.status]:
        raise UpdateRejected(
            "status_backwards", f"the order is {row.status}: it cannot become {change.status}"
        )
    if row.status in CLOSED:
        return  # declined and reversed are final: nothing left to cancel
    reward_parts = conn.execute(
        select(parts).where(parts.c.conversion_id == row.id).order_by(parts.c.part)
    ).all()
    values: dict[str, Any] = {"status": change.status, "updated_at_ns": now_ns}
    if change.status in CLOSED or change.order_amount < row.order_amount:  # a refund: the user's history
        refund_ref = f"{SOURCE}:refund:{row.reward_ref}:{change.status}:{change.order_amount}"
        observe(risk, RiskEvent("refund", refund_ref, now_ns, keys={"user": str(row.user_id)}))
    if change.status in CLOSED:
        for part in reward_parts:
            cashback.reverse(conn, ledger, source=SOURCE, ref=part.ref)
    elif change.order_amount > row.order_amount:
        raise UpdateRejected("amount_increase", f"the order amount can only shrink (now {row.order_amount})")
    else:
        for part in reward_parts:
            target = part.first_amount * change.order_amount // row.first_amount
            cashback.adjust_down(conn, ledger, source=SOURCE, ref=part.ref, new_amount=target)
        values["order_amount"] = change.order_amount
    conn.execute(update(conversions).where(conversions.c.id == row.id).values(**values))


# -- views --------------------------------------------------------------------------------------------
def _answer(conn: Connection, merchant_id: int, order_id: str) -> dict[str, Any]:
    row = conn.execute(
        select(conversions).where(
            conversions.c.merchant_id == merchant_id, conversions.c.order_id == order_id
        )
    ).one()
    view = conversion_dict(conn, row)
    return {
        "status": "ok",
        "order_id": view["order_id"],
        "conversion_status": view["status"],
        "order_amount": view["order_amount"],
        "currency": view["currency"],
        "reward": view["reward"],
        "reward_status": view["reward_status"],
    }


def conversion_dict(conn: Connection, row: Any) -> dict[str, Any]:
    """A conversion with its reward: the sum of the parts still owed to the user (pending or paid)."""
    entries = []
    for part in conn.execute(select(parts).where(parts.c.conversion_id == row.id).order_by(parts.c.part)):
        entry = cashback.find(conn, SOURCE, part.ref)
        assert entry is not None, "a reward part always has its cashback entry"
        entries.append(
            {"part": part.part, "ref": part.ref, "amount": entry["amount"], "status": entry["status"]}
        )
    owed = [e for e in entries if e["status"] in ("pending", "confirmed")]
    base = next((e for e in entries if e["part"] == "base"), entries[0] if entries else None)
    return {
        "conversion_id": row.id,
        "merchant_id": row.merchant_id,
        "order_id": row.order_id,
        "click_id": row.click_id,
        "user_id": row.user_id,
        "status": row.status,
        "currency": row.currency,
        "category": row.category,
        "order_amount": row.order_amount,
        "first_amount": row.first_amount,
        "reward": sum(e["amount"] for e in owed),
        "reward_status": "none" if base is None else _REWARD_STATUS[base["status"]],
        "release_at_ns": row.release_at_ns,
        "event_at_ns": row.event_at_ns,
        "created_at_ns": row.created_at_ns,
        "updated_at_ns": row.updated_at_ns,
        "parts": entries,
    }
