"""The ledger legs of a payment and of a refund: a linked chain (all or nothing) from the user's wallet to
the merchant's settlement account and the platform's revenue (the fee), through the FX position accounts
when the user pays from a wallet in another currency."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from earnloop.currencies import Currency, currency
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import Transfer, TransferFlags
from earnloop.wallet.chart import AccountKind, AccountRef, TransferKind, transfer_id
from earnloop.wallet.ledger_ops import ensure_accounts, submit
from earnloop.wallet.pay.orders import settlement_account
from earnloop.wallet.service import system_account, user_account


def chain(transfers: list[Transfer]) -> list[Transfer]:
    """Drop empty legs, link the rest (all but the last) so they succeed or fail together."""
    kept = [t for t in transfers if t.amount > 0]
    for t in kept[:-1]:
        t.flags |= TransferFlags.LINKED
    return kept


def leg(
    xfer_id: int, debit: AccountRef, credit: AccountRef, amount: int, kind: TransferKind, order_id: int
) -> Transfer:
    return Transfer(
        id=xfer_id,
        debit_account_id=debit.id,
        credit_account_id=credit.id,
        amount=amount,
        ledger=debit.ledger,
        code=int(kind),
        user_data_64=order_id,
    )


def pay_money(
    conn: Connection, ledger: LedgerService, row: Any, user_id: int, pay_cur: Currency, pay_amount: int
) -> None:
    """The payment of order ``row``: ``pay_amount`` from the user's wallet in ``pay_cur`` (the order's
    amount, or its cost in ``pay_cur`` after FX); the merchant gets the amount less the fee."""
    order_cur = currency(row.currency)
    user = user_account(user_id, pay_cur)
    merchant = settlement_account(row.merchant_id, order_cur)
    revenue = system_account(AccountKind.PLATFORM_REVENUE, order_cur)
    refs = [merchant, revenue]
    net, fee = row.amount - row.fee, row.fee
    step = ("pay.order", row.id)
    if pay_cur == order_cur:
        legs = [
            leg(transfer_id(*step, "merchant"), user, merchant, net, TransferKind.PAYMENT, row.id),
            leg(transfer_id(*step, "fee"), user, revenue, fee, TransferKind.PAYMENT_FEE, row.id),
        ]
    else:
        position_pay = system_account(AccountKind.FX_POSITION, pay_cur)
        position_order = system_account(AccountKind.FX_POSITION, order_cur)
        refs += [position_pay, position_order]
        legs = [
            leg(transfer_id(*step, "fx"), user, position_pay, pay_amount, TransferKind.PAYMENT, row.id),
            leg(transfer_id(*step, "merchant"), position_order, merchant, net, TransferKind.PAYMENT, row.id),
            leg(transfer_id(*step, "fee"), position_order, revenue, fee, TransferKind.PAYMENT_FEE, row.id),
        ]
    ensure_accounts(conn, ledger, refs)
    submit(conn, ledger, chain(legs))


def refund_money(
    conn: Connection,
    ledger: LedgerService,
    row: Any,
    refund_id: int,
    amount: int,
    fee_part: int,
    pay_part: int,
) -> None:
    order_cur, pay_cur = currency(row.currency), currency(row.pay_currency)
    user = user_account(row.user_id, pay_cur)
    merchant = settlement_account(row.merchant_id, order_cur)
    revenue = system_account(AccountKind.PLATFORM_REVENUE, order_cur)
    step = ("pay.refund", refund_id)
    kind = TransferKind.REFUND
    if pay_cur == order_cur:
        legs = [
            leg(transfer_id(*step, "merchant"), merchant, user, amount - fee_part, kind, row.id),
            leg(transfer_id(*step, "fee"), revenue, user, fee_part, kind, row.id),
        ]
    else:
        position_order = system_account(AccountKind.FX_POSITION, order_cur)
        position_pay = system_account(AccountKind.FX_POSITION, pay_cur)
        legs = [
            leg(transfer_id(*step, "merchant"), merchant, position_order, amount - fee_part, kind, row.id),
            leg(transfer_id(*step, "fee"), revenue, position_order, fee_part, kind, row.id),
            leg(transfer_id(*step, "fx"), position_pay, user, pay_part, kind, row.id),
        ]
    submit(conn, ledger, chain(legs))
