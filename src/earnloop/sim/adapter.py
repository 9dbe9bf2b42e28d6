"""The one place where simulated actors meet the real services: every call an actor makes goes through a
function here, in-process, in the caller's transaction, and comes back as a :class:`Done` (the event's
kind, the reference its risk decision is recorded under, what the service answered, the money asked).

**Facts the services do not take yet.** Each call carries the actor's :class:`Origin` (device id, client
IP, user agent, phone): the facts the risk engine keys events by. Today ``record_click`` takes the user
agent and IP, the postbacks carry the provider's IP, withdrawals, payments and payout-destination
changes take the device and IP (``Presence``), and nothing takes a phone number. Those facts are passed
here in the form the engine needs (:class:`Origin`), and each function says which of them it cannot hand
over yet
(``# not accepted yet:``): the integrator wires them in this module only, when the services accept a
``RiskEvent``'s keys.
"""

from __future__ import annotations

import json
import secrets as token_source
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Connection, select

from earnloop.affiliate import conversions as affiliate_conversions
from earnloop.affiliate import postbacks as affiliate_postbacks
from earnloop.affiliate import service as affiliate
from earnloop.auth.models import partners
from earnloop.auth.service import create_partner, create_user
from earnloop.db import driver
from earnloop.einvoice import rewards as einvoice_rewards
from earnloop.einvoice import service as einvoice
from earnloop.einvoice.cipher import CodeCipher
from earnloop.einvoice.source import STATUS_TEXT, InvoiceDetail, InvoiceHeader
from earnloop.errors import DomainError
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine
from earnloop.secretbox import SecretBox
from earnloop.tracking import games as tracking_games
from earnloop.tracking import service as tracking
from earnloop.tracking.verifiers import GENERIC_SIGNATURE_HEADER, RawPostback, sign_generic
from earnloop.wallet import service as wallet
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.pay import service as pay
from earnloop.wallet.screening import Presence, RiskRefusedError, keep_refusal, unwrap
from earnloop.wallet.withdrawals import service as withdrawals

PROVIDER = "earnloop"  # the postback scheme the simulated games are tracked by (per-publisher secrets)
PROVIDER_IP = "203.0.113.7"  # TEST-NET-3: the simulated provider's servers
PARTNER_IP = "203.0.113.9"  # TEST-NET-3: the affiliate partners' servers
CURRENCY = "TWD"
ACCEPTED, REFUSED, DUPLICATE = "accepted", "refused", "duplicate"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an actor acts from: the entity keys the engine counts by (``device``, ``ip``; ``ip24`` is
    derived from the IP), the user agent, and the phone the account was opened with ("" for none)."""

    device: str
    ip: str
    user_agent: str
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Done:
    """What one service call did: ``outcome`` is ``accepted`` (it moved or may move money), ``refused``
    (rejected, cap reached, limit, ...) or ``duplicate`` (the service recognised a repeat)."""

    kind: str
    event_ref: str | None
    outcome: str
    amount: int = 0


# -- accounts -----------------------------------------------------------------------------------------
def sign_up(conn: Connection, handle: str, origin: Origin, now_ns: int) -> int:
    """A new account opened from ``origin``; its id."""
    # not accepted yet: origin.device, origin.ip, origin.phone (the engine's multi-accounting keys)
    return create_user(conn, handle, now_ns=now_ns).id


def partner(conn: Connection, name: str, kind: str) -> int:
    """The partner named ``name``, created when missing."""
    row = conn.execute(select(partners.c.id).where(partners.c.name == name)).first()
    if row is not None:
        return int(row.id)
    return create_partner(conn, name, kind, CURRENCY).id


def publisher_secret(conn: Connection, box: SecretBox, publisher_id: int, now_ns: int) -> str:
    """The publisher's active ``earnloop`` postback secret, made (random, kept in the database only)
    when it has none."""
    active = tracking.active_partner_secrets(conn, publisher_id, box)
    if active:
        return active[0]
    secret = token_source.token_urlsafe(32)
    tracking.set_partner_secret(
        conn, partner_id=publisher_id, secret=secret, active=True, now_ns=now_ns, box=box
    )
    return secret


def merchant_secret(conn: Connection, box: SecretBox, merchant_id: int, now_ns: int) -> str:
    """The merchant's active affiliate postback secret, made when it has none."""
    active = affiliate.active_secrets(conn, merchant_id, box)
    if active:
        return active[0]
    secret = token_source.token_urlsafe(32)
    affiliate.set_secret(conn, merchant_id=merchant_id, secret=secret, active=True, now_ns=now_ns, box=box)
    return secret


# -- games --------------------------------------------------------------------------------------------
def click_game(
    conn: Connection, risk: RiskEngine, user_id: int, game_id: int, origin: Origin, now_ns: int
) -> tuple[str, Done]:
    """A click on a game link (observed by the risk engine); the click id (the provider echoes it in its
    postbacks)."""
    click = tracking.record_click(
        conn,
        user_id=user_id,
        game_id=game_id,
        user_agent=origin.user_agent,
        client_ip=origin.ip,
        now_ns=now_ns,
        risk=risk,
        device_id=origin.device or None,
    )
    click_id = str(click["click_id"])
    return click_id, Done("click", f"click:{click_id}", ACCEPTED)


def signed_game_postback(
    secret: str, transaction_id: str, click_id: str, event: str, now_ns: int
) -> RawPostback:
    """The provider's signed ``earnloop`` milestone postback, as it arrives over HTTP."""
    body = json.dumps({"transaction_id": transaction_id, "click_id": click_id, "event": event}).encode()
    return RawPostback(
        method="POST",
        path=f"/postbacks/{PROVIDER}",
        query_string="",
        headers={
            GENERIC_SIGNATURE_HEADER: sign_generic(secret, body, now_ns // 10**9),
            "Content-Type": "application/json",
        },
        body=body,
        client_ip=PROVIDER_IP,
    )


def game_postback(
    conn: Connection,
    ledger: LedgerService,
    risk: RiskEngine,
    box: SecretBox,
    secret: str,
    *,
    transaction_id: str,
    click_id: str,
    event: str,
    now_ns: int,
    sent_before: bool,
) -> Done:
    """A milestone postback handled by the real receiver. The receiver answers a repeat of an accepted
    transaction id with the first reply verbatim, so ``sent_before`` (this id was accepted before) tells
    a ``duplicate`` from a new acceptance."""
    raw = signed_game_postback(secret, transaction_id, click_id, event, now_ns)
    reply = tracking.handle_postback(conn, ledger, raw, provider=PROVIDER, now_ns=now_ns, box=box, risk=risk)
    ref = tracking_games.reward_ref(PROVIDER, transaction_id)
    event_ref = f"{tracking_games.SOURCE}:{ref}"
    if reply.status != 200:
        return Done("milestone", event_ref, REFUSED)
    if sent_before:
        return Done("milestone", event_ref, DUPLICATE)
    entry = cashback.find(conn, tracking_games.SOURCE, ref)
    return Done("milestone", event_ref, ACCEPTED, 0 if entry is None else int(entry["amount"]))


# -- shopping -----------------------------------------------------------------------------------------
def click_merchant(
    conn: Connection, user_id: int, merchant_id: int, origin: Origin, now_ns: int
) -> tuple[str, Done]:
    """A click on a merchant's tracking link; the click id the merchant's partner reports back."""
    # not accepted yet: origin.device
    click = affiliate.record_click(
        conn,
        user_id=user_id,
        merchant_id=merchant_id,
        user_agent=origin.user_agent,
        client_ip=origin.ip,
        now_ns=now_ns,
    )
    click_id = str(click["click_id"])
    return click_id, Done("merchant_click", f"affiliate_click:{click_id}", ACCEPTED)


def merchant_report(
    conn: Connection,
    ledger: LedgerService,
    risk: RiskEngine,
    box: SecretBox,
    secret: str,
    *,
    merchant_id: int,
    order_id: str,
    click_id: str,
    status: str,
    order_amount: int,
    category: str,
    now_ns: int,
) -> Done:
    """The merchant's partner reports an order update in a signed postback (``pending`` first, then
    ``approved`` or ``reversed``); the first report of an order is the ``conversion`` that earns."""
    report = {
        "order_id": order_id,
        "click_id": click_id,
        "order_amount": order_amount,
        "currency": CURRENCY,
        "category": category,
        "status": status,
        "event_time": datetime.fromtimestamp(now_ns / 10**9, UTC).isoformat(),
    }
    body = json.dumps(report).encode()
    raw = RawPostback(
        method="POST",
        path=f"/affiliate/postbacks/{merchant_id}",
        query_string="",
        headers={GENERIC_SIGNATURE_HEADER: sign_generic(secret, body, now_ns // 10**9)},
        body=body,
        client_ip=PARTNER_IP,
    )
    reply = affiliate_postbacks.handle_postback(
        conn, ledger, raw, merchant_id=merchant_id, now_ns=now_ns, box=box, risk=risk
    )
    outcome = ACCEPTED if reply.status == 200 else REFUSED
    ref = affiliate_conversions.reward_ref(merchant_id, order_id)
    kind = "conversion" if status == "pending" else f"conversion_{status}"
    entry = cashback.find(conn, affiliate_conversions.SOURCE, ref) if kind == "conversion" else None
    amount = 0 if entry is None or outcome != ACCEPTED else int(entry["amount"])
    return Done(kind, f"{affiliate_conversions.SOURCE}:{ref}", outcome, amount)


# -- e-invoice receipts -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Receipt:
    """One invoice the government platform lists on a carrier: seller, number, day, amount (TWD)."""

    invoice_number: str
    day: date
    seller_name: str
    seller_tax_id: str
    amount: int


def bind_carrier(conn: Connection, cipher: CodeCipher, user_id: int, barcode: str, now_ns: int) -> int:
    """The user's mobile barcode carrier, stored as if the platform had verified it; its id."""
    stored = einvoice.store_carrier(
        conn, cipher, user_id=user_id, barcode=barcode, verification_code="sim-code", now_ns=now_ns
    )
    return int(stored["carrier_id"])


def sync_receipts(
    conn: Connection,
    ledger: LedgerService,
    risk: RiskEngine,
    carrier_id: int,
    day: date,
    found: list[Receipt],
) -> list[Done]:
    """One day's sync of a carrier: what the platform listed is written and rewarded by the real sync
    (the platform's HTTP answer is what this simulates); one ``einvoice_receipt`` per listed receipt."""
    plan = einvoice.SyncPlan(carrier_id, day, day)
    for receipt in found:
        header = InvoiceHeader(
            invoice_number=receipt.invoice_number,
            invoice_date=receipt.day,
            seller_name=receipt.seller_name,
            seller_tax_id=receipt.seller_tax_id,
            amount=Decimal(receipt.amount),
            currency=CURRENCY,
            status_text=STATUS_TEXT["issued"],
        )
        plan.headers.append(header)
        plan.details[(receipt.invoice_number, receipt.day)] = InvoiceDetail(header, ())
    now_ns = ledger.clock.now_ns()
    einvoice_rewards.reward_receipts(conn, ledger, einvoice.apply_sync(conn, plan, now_ns), risk=risk)
    done = []
    for receipt in found:
        ref = einvoice.reward_ref(receipt.invoice_number, receipt.day)
        entry = cashback.find(conn, einvoice_rewards.SOURCE, ref)
        outcome, amount = (REFUSED, 0) if entry is None else (ACCEPTED, int(entry["amount"]))
        done.append(Done("einvoice_receipt", f"{einvoice_rewards.SOURCE}:{ref}", outcome, amount))
    return done


# -- payouts ------------------------------------------------------------------------------------------
def add_payout_destination(
    conn: Connection,
    box: SecretBox,
    risk: RiskEngine,
    user_id: int,
    account_number: str,
    holder_name: str,
    origin: Origin,
    now_ns: int,
) -> tuple[int | None, Done]:
    """A payout destination added to the account (an ``account_change``, screened: a refusal stores
    nothing but its decision); its id."""
    with driver.savepoint(conn):  # a refusal is returned, so that its decision stays
        kept = keep_refusal(withdrawals.add_destination)(
            conn,
            user_id=user_id,
            kind="bank",
            institution="Sim Bank",
            holder_name=holder_name,
            account_number=account_number,
            now_ns=now_ns,
            risk=risk,
            presence=_presence(origin),
            box=box,
        )
    try:
        added = unwrap(kept)
    except RiskRefusedError:
        return None, Done("account_change", None, REFUSED)
    destination_id = int(added["destination_id"])
    return destination_id, Done("account_change", f"payout_destination:{destination_id}", ACCEPTED)


def _presence(origin: Origin) -> Presence:
    return Presence(origin.ip, origin.device or None)


def available(conn: Connection, ledger: LedgerService, user_id: int) -> int:
    """The user's available balance in minor units (0 without a wallet)."""
    try:
        return int(wallet.view(conn, ledger, user_id, CURRENCY).available)
    except DomainError:
        return 0


def withdraw(
    conn: Connection,
    ledger: LedgerService,
    risk: RiskEngine,
    box: SecretBox,
    *,
    user_id: int,
    destination_id: int,
    amount: int,
    idempotency_key: str,
    origin: Origin,
) -> Done:
    """A withdrawal request: screened, then the money is reserved at once (the payout itself is the
    provider's later step, not simulated; one held for review stays reserved). Refused (nothing
    reserved) when risk screening, a limit or the balance says no; a screening's refusal keeps its
    decision (recorded under the event's reference)."""
    event_ref = withdrawals.screened_ref(user_id, idempotency_key)
    try:
        with driver.savepoint(conn):  # a refusal is returned, so that its decision stays
            kept = keep_refusal(withdrawals.hold)(
                conn,
                ledger,
                idempotency_key=idempotency_key,
                user_id=user_id,
                destination_id=destination_id,
                currency_code=CURRENCY,
                amount=amount,
                limits=withdrawals.Limits(),
                risk=risk,
                presence=_presence(origin),
                box=box,
            )
        unwrap(kept)
    except DomainError:
        return Done("withdrawal", event_ref, REFUSED, amount)
    return Done("withdrawal", event_ref, ACCEPTED, amount)


def pay_merchant(
    conn: Connection,
    ledger: LedgerService,
    risk: RiskEngine,
    *,
    merchant_partner_id: int,
    merchant_order_id: str,
    user_id: int,
    amount: int,
    idempotency_key: str,
    origin: Origin,
) -> Done:
    """The merchant presents an order for this user and the user pays it from the wallet, screened
    (refused, nothing moved, when risk screening or the balance says no)."""
    event_ref = pay.confirm_screened_ref(user_id, idempotency_key)
    try:
        with driver.savepoint(conn):
            order = pay.create_order(
                conn,
                ledger,
                merchant_id=merchant_partner_id,
                merchant_order_id=merchant_order_id,
                amount=amount,
                currency_code=CURRENCY,
                payer_user_id=user_id,
            )
            kept = keep_refusal(pay.confirm)(
                conn,
                ledger,
                idempotency_key=idempotency_key,
                user_id=user_id,
                order_id=order["order_id"],
                risk=risk,
                presence=_presence(origin),
            )
        unwrap(kept)  # after the savepoint: a refusal keeps its decision
    except DomainError:
        return Done("payment", event_ref, REFUSED, amount)
    return Done("payment", event_ref, ACCEPTED, amount)
