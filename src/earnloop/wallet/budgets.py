"""Campaign budgets in the ledger: the budget account of a campaign, what is left in it, and funding it
(operator → campaign budget). The catalog decides whether funding is allowed (its total, its guard); the
money moves here.

Every function takes the caller's connection and never commits.
"""

from __future__ import annotations

from sqlalchemy import Connection

from earnloop.currencies import currency
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import Transfer
from earnloop.wallet.chart import AccountKind, AccountRef, transfer_id
from earnloop.wallet.ledger_ops import balance_of, ensure_accounts, submit
from earnloop.wallet.service import system_account

# Ledger ``code`` of a campaign funding transfer (operator → campaign budget); not a wallet movement.
CAMPAIGN_FUNDING_CODE = 70


def budget_account(campaign_id: int, currency_code: str) -> AccountRef:
    return AccountRef(AccountKind.CAMPAIGN_BUDGET, campaign_id, currency(currency_code))


def budget_remaining(conn: Connection, ledger: LedgerService, campaign_id: int, currency_code: str) -> int:
    """Available in the campaign's ledger budget: posted credits − posted debits − pending debits."""
    account = balance_of(conn, ledger, budget_account(campaign_id, currency_code))
    if account is None:
        return 0
    return account.credits_posted - account.debits_posted - account.debits_pending


def fund_budget(
    conn: Connection,
    ledger: LedgerService,
    *,
    campaign_id: int,
    currency_code: str,
    amount: int,
    scope: str,
    idempotency_key: str,
) -> int:
    """Move ``amount`` OPERATOR_FUNDING → CAMPAIGN_BUDGET(campaign) in one ledger transfer whose id derives
    from ``scope`` and ``idempotency_key``; returns that transfer id. The caller guards the amount."""
    cur = currency(currency_code)
    operator = system_account(AccountKind.OPERATOR_FUNDING, cur)
    budget = budget_account(campaign_id, cur.code)
    ensure_accounts(conn, ledger, [operator, budget])
    xfer_id = transfer_id(scope, idempotency_key)
    transfer = Transfer(
        id=xfer_id,
        debit_account_id=operator.id,
        credit_account_id=budget.id,
        amount=amount,
        ledger=cur.ledger,
        code=CAMPAIGN_FUNDING_CODE,
        user_data_64=campaign_id,
    )
    submit(conn, ledger, [transfer])
    return xfer_id
