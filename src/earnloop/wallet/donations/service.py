"""Donations: users give any amount (≥ 1 minor unit) to a charity's campaign.

Each charity (a partner of kind ``charity``) has its own ledger account per currency (``CHARITY``);
a donation is one transfer user → charity plus one row, and bumps the campaign's counters in the same
transaction, so progress is a single-row read and a donation costs O(1). The public per-charity
statement lists donations (donor handles masked) and reconciles their total to the ledger balance.
"""

from __future__ import annotations

import time
from typing import Any, cast

from sqlalchemy import Connection, func, insert, select, update

from earnloop.auth.models import partners, users
from earnloop.auth.service import get_partner
from earnloop.currencies import currency
from earnloop.idempotency import service as idem
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import Transfer, enc128
from earnloop.outbox import service as outbox
from earnloop.wallet.chart import AccountKind, AccountRef, TransferKind, transfer_id
from earnloop.wallet.donations.models import charity_campaigns as campaigns
from earnloop.wallet.donations.models import donations
from earnloop.wallet.donations.schemas import Campaign, CharityCampaign, Donation, Statement
from earnloop.wallet.errors import InvalidAmountError, NotFoundError, StateConflictError
from earnloop.wallet.ledger_ops import balance_of, ensure_accounts, submit
from earnloop.wallet.service import check_amount, require_wallet, user_account

STATEMENT_PAGE_MAX = 200


def charity_account(charity_id: int, currency_code: str) -> AccountRef:
    return AccountRef(AccountKind.CHARITY, charity_id, currency(currency_code))


def _require_charity(conn: Connection, charity_id: int) -> Any:
    partner = get_partner(conn, charity_id)
    if partner is None or partner.kind != "charity":
        raise NotFoundError(f"no charity {charity_id}")
    return partner


def _campaign_dict(row: Any, now_ns: int) -> Campaign:
    return {
        "campaign_id": row.id,
        "charity_id": row.charity_id,
        "name": row.name,
        "currency": row.currency,
        "goal": row.goal,
        "raised": row.raised,
        "donations_count": row.donations_count,
        "percent_of_goal": round(100 * row.raised / row.goal, 2),
        "starts_at_ns": row.starts_at_ns,
        "ends_at_ns": row.ends_at_ns,
        "active": row.starts_at_ns <= now_ns < row.ends_at_ns,
    }


def create_campaign(
    conn: Connection,
    ledger: LedgerService,
    *,
    charity_id: int,
    name: str,
    currency_code: str,
    goal: int,
    starts_at_ns: int,
    ends_at_ns: int,
) -> Campaign:
    """Open a campaign for a charity (and the charity's ledger account in that currency)."""
    _require_charity(conn, charity_id)
    cur = currency(currency_code)
    check_amount(goal)
    if not 0 < len(name.strip()) <= 120:
        raise InvalidAmountError("name: 1–120 characters")
    if not 0 <= starts_at_ns < ends_at_ns <= (1 << 63) - 1:
        raise InvalidAmountError("the campaign must end after it starts")
    ensure_accounts(conn, ledger, [charity_account(charity_id, cur.code)])
    new_id = conn.execute(
        insert(campaigns)
        .values(
            charity_id=charity_id,
            name=name.strip(),
            currency=cur.code,
            goal=goal,
            starts_at_ns=starts_at_ns,
            ends_at_ns=ends_at_ns,
            raised=0,
            donations_count=0,
            created_at_ns=time.time_ns(),
        )
        .returning(campaigns.c.id)
    ).scalar_one()
    return campaign_progress(conn, ledger, int(new_id))


def campaign_progress(conn: Connection, ledger: LedgerService, campaign_id: int) -> Campaign:
    row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).first()
    if row is None:
        raise NotFoundError(f"no campaign {campaign_id}")
    return _campaign_dict(row, ledger.clock.now_ns())


def list_campaigns(conn: Connection, ledger: LedgerService, charity_id: int) -> list[Campaign]:
    _require_charity(conn, charity_id)
    now = ledger.clock.now_ns()
    rows = conn.execute(
        select(campaigns)
        .where(campaigns.c.charity_id == charity_id)
        .order_by(campaigns.c.id)
        .limit(STATEMENT_PAGE_MAX)
    )
    return [_campaign_dict(r, now) for r in rows]


def open_campaigns(conn: Connection, ledger: LedgerService, *, limit: int = 50) -> list[CharityCampaign]:
    """Campaigns accepting donations now, of every charity (with the charity's name), ending soonest
    first: what a donor chooses from."""
    now = ledger.clock.now_ns()
    rows = conn.execute(
        select(campaigns, partners.c.name.label("charity_name"))
        .join(partners, partners.c.id == campaigns.c.charity_id)
        .where(campaigns.c.starts_at_ns <= now, campaigns.c.ends_at_ns > now)
        .order_by(campaigns.c.ends_at_ns, campaigns.c.id)
        .limit(max(1, min(limit, STATEMENT_PAGE_MAX)))
    )
    return [{**_campaign_dict(r, now), "charity_name": r.charity_name} for r in rows]


def donate(
    conn: Connection,
    ledger: LedgerService,
    *,
    idempotency_key: str,
    user_id: int,
    campaign_id: int,
    amount: int,
) -> Donation:
    """Give ``amount`` (campaign currency, ≥ 1 minor unit) to an active campaign's charity."""
    scope = f"donation:{user_id}"
    request = {"campaign_id": campaign_id, "amount": amount}
    replay = idem.claim(conn, scope, idempotency_key, request)
    if replay is not None:
        return cast(Donation, replay)
    check_amount(amount)
    now = ledger.clock.now_ns()
    campaign = _open_campaign(conn, campaign_id, now)
    cur = require_wallet(conn, user_id, campaign.currency)
    xfer_id = transfer_id(scope, idempotency_key, "donate")
    _give(conn, ledger, xfer_id, user_account(user_id, cur), campaign, amount)
    donation_id = _record(conn, user_id, campaign, cur.code, amount, xfer_id, now)
    answer: Donation = {
        "donation_id": int(donation_id),
        "campaign_id": campaign_id,
        "charity_id": campaign.charity_id,
        "currency": cur.code,
        "amount": amount,
        "created_at_ns": now,
        "transfer_id": str(xfer_id),
    }
    outbox.emit(
        conn,
        topic="donation.received",
        payload={k: v for k, v in answer.items() if k != "transfer_id"},
        partner_id=campaign.charity_id,
    )
    return idem.complete(conn, scope, idempotency_key, answer)


def _open_campaign(conn: Connection, campaign_id: int, now_ns: int) -> Any:
    """The campaign, if it accepts donations at ``now_ns``."""
    campaign = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).first()
    if campaign is None:
        raise NotFoundError(f"no campaign {campaign_id}")
    if not campaign.starts_at_ns <= now_ns < campaign.ends_at_ns:
        raise StateConflictError(f"campaign {campaign_id} is not accepting donations now")
    return campaign


def _give(
    conn: Connection, ledger: LedgerService, xfer_id: int, user: AccountRef, campaign: Any, amount: int
) -> None:
    """The donation's transfer: the user's wallet → the charity's account (in the campaign's currency)."""
    charity = charity_account(campaign.charity_id, user.currency.code)
    ensure_accounts(conn, ledger, [charity])
    submit(
        conn,
        ledger,
        [
            Transfer(
                id=xfer_id,
                debit_account_id=user.id,
                credit_account_id=charity.id,
                amount=amount,
                ledger=user.ledger,
                code=int(TransferKind.DONATION),
                user_data_64=campaign.id,
            )
        ],
    )


def _record(
    conn: Connection, user_id: int, campaign: Any, currency_code: str, amount: int, xfer_id: int, now_ns: int
) -> int:
    """The donation row, and the campaign's counters (raised, donations) moved in the same transaction."""
    donation_id = conn.execute(
        insert(donations)
        .values(
            user_id=user_id,
            charity_id=campaign.charity_id,
            campaign_id=campaign.id,
            currency=currency_code,
            amount=amount,
            transfer_id=enc128(xfer_id),
            created_at_ns=now_ns,
        )
        .returning(donations.c.id)
    ).scalar_one()
    conn.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign.id)
        .values(raised=campaigns.c.raised + amount, donations_count=campaigns.c.donations_count + 1)
    )
    return int(donation_id)


def mask_handle(handle: str) -> str:
    """``carol`` → ``c***l``: enough to recognise yourself, not to identify someone else."""
    return f"{handle[0]}***{handle[-1]}" if len(handle) > 1 else "***"


def statement(
    conn: Connection,
    ledger: LedgerService,
    *,
    charity_id: int,
    currency_code: str,
    limit: int = 50,
    before_id: int = 0,
) -> Statement:
    """The public statement of one charity in one currency: totals, the ledger balance they reconcile
    to, and a page of donations (newest first; page with ``before_id`` = the last donation id)."""
    _require_charity(conn, charity_id)
    cur = currency(currency_code)
    name = conn.execute(select(partners.c.name).where(partners.c.id == charity_id)).scalar_one()
    total, count = conn.execute(
        select(func.coalesce(func.sum(donations.c.amount), 0), func.count()).where(
            donations.c.charity_id == charity_id, donations.c.currency == cur.code
        )
    ).one()
    account = balance_of(conn, ledger, charity_account(charity_id, cur.code))
    balance = 0 if account is None else account.credits_posted - account.debits_posted
    query = (
        select(donations, users.c.handle)
        .join(users, users.c.id == donations.c.user_id)
        .where(donations.c.charity_id == charity_id, donations.c.currency == cur.code)
        .order_by(donations.c.id.desc())
        .limit(max(1, min(limit, STATEMENT_PAGE_MAX)))
    )
    if before_id:
        query = query.where(donations.c.id < before_id)
    return {
        "charity_id": charity_id,
        "charity_name": name,
        "currency": cur.code,
        "donations_total": int(total),
        "donations_count": int(count),
        "ledger_balance": balance,
        "reconciled": int(total) == balance,
        "donations": [
            {
                "donation_id": r.id,
                "campaign_id": r.campaign_id,
                "amount": r.amount,
                "donor": mask_handle(r.handle),
                "created_at_ns": r.created_at_ns,
            }
            for r in conn.execute(query)
        ],
    }
