"""Demo data for ``make demo``: a few accounts and transfers created through the real ledger.

Idempotent: ids are fixed, so seeding twice creates nothing new (the ledger answers ``exists``).
Later issues replace this with the simulated population.
"""

from __future__ import annotations

from earnloop.auth.admin_token import ensure_admin_token_file
from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.ledger.clock import SystemClock
from earnloop.ledger.service import LedgerService
from earnloop.ledger.types import Account, AccountFlags, Transfer, TransferFlags

TWD = 901  # ledger number = ISO 4217 numeric code; amounts in minor units
CODE_FUNDING, CODE_WALLET, CODE_MERCHANT = 1, 10, 20
FUNDING, ALICE, BOB, STORE = 1_000, 1_001, 1_002, 2_001
DEMO_ACCOUNTS = [
    Account(id=FUNDING, ledger=TWD, code=CODE_FUNDING),
    Account(
        id=ALICE,
        ledger=TWD,
        code=CODE_WALLET,
        flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.HISTORY,
    ),
    Account(
        id=BOB,
        ledger=TWD,
        code=CODE_WALLET,
        flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.HISTORY,
    ),
    Account(id=STORE, ledger=TWD, code=CODE_MERCHANT, flags=AccountFlags.HISTORY),
]
DEMO_TRANSFERS = [
    Transfer(id=10_001, debit_account_id=FUNDING, credit_account_id=ALICE, amount=15_000, ledger=TWD, code=1),
    Transfer(id=10_002, debit_account_id=FUNDING, credit_account_id=BOB, amount=4_200, ledger=TWD, code=1),
    Transfer(id=10_003, debit_account_id=ALICE, credit_account_id=STORE, amount=1, ledger=TWD, code=2),
    Transfer(
        id=10_004,
        debit_account_id=BOB,
        credit_account_id=STORE,
        amount=3_000,
        ledger=TWD,
        code=3,
        flags=TransferFlags.PENDING,
    ),
]


def seed(db: Database, settings: Settings) -> str:
    """Create the demo ledger; return a human summary with an example request."""
    token_file = ensure_admin_token_file(settings)
    ledger = LedgerService(SystemClock())
    with db.uow() as conn:
        accounts = ledger.create_accounts(conn, DEMO_ACCOUNTS)
        transfers = ledger.create_transfers(conn, DEMO_TRANSFERS)
    created = sum(r.status.name == "CREATED" for r in accounts) + sum(
        r.status.name == "CREATED" for r in transfers
    )
    return (
        f"demo ledger ready ({created} new rows). Try:\n"
        f'  curl -H "Authorization: Bearer $(cat {token_file})" '
        f"http://{settings.host}:{settings.port}/v1/ledger/accounts/{ALICE}/balance"
    )
