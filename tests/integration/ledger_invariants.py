"""Whole-database invariants of the ledger, checked from the stored rows alone (shared by the property,
concurrency and crash tests).

Everything is recomputed in SQL and Python from ``ledger_transfers`` / ``ledger_pending_status`` and then
compared with the balances kept on ``ledger_accounts``; any drift means a lost or doubled update.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import text

from earnloop.db.engine import Database
from earnloop.ledger.types import (
    STATUS_EXPIRED,
    STATUS_PENDING,
    STATUS_POSTED,
    STATUS_VOIDED,
    AccountFlags,
    TransferFlags,
    dec128,
)

_PENDING = int(TransferFlags.PENDING)
_POST = int(TransferFlags.POST_PENDING_TRANSFER)
_VOID = int(TransferFlags.VOID_PENDING_TRANSFER)
_CLOSING_DEBIT = int(TransferFlags.CLOSING_DEBIT)
_CLOSING_CREDIT = int(TransferFlags.CLOSING_CREDIT)
_DMNEC = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CMNED = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
_CLOSED = int(AccountFlags.CLOSED)

Balances = tuple[int, int, int, int]  # debits_pending, debits_posted, credits_pending, credits_posted


@dataclass(frozen=True)
class LedgerSnapshot:
    """What the invariants were checked on: comparable between two points in time."""

    accounts: dict[int, tuple[int, int, int, int, int]]  # id -> (dp, dpo, cp, cpo, flags)
    transfer_count: int
    pending_status: dict[int, int]  # pending transfer id -> status
    failed_count: int
    clock: int


def _sum_by(db_rows: object) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for key, value in db_rows:  # type: ignore[attr-defined]
        out[dec128(key)] += int(value)
    return out


def check_ledger_invariants(db: Database) -> LedgerSnapshot:
    """Assert every invariant of the stored ledger and return a snapshot of it."""
    with db.uow(write=False) as conn:
        accounts = {
            dec128(r.id): (
                int(r.ledger),
                int(r.flags),
                int(r.debits_pending),
                int(r.debits_posted),
                int(r.credits_pending),
                int(r.credits_posted),
            )
            for r in conn.execute(
                text(
                    "SELECT id, ledger, flags, debits_pending, debits_posted, credits_pending, credits_posted"
                    " FROM ledger_accounts"
                )
            )
        }
        posted = "(flags & 2) = 0 AND (flags & 8) = 0"
        dpo = _sum_by(
            conn.execute(
                text(f"SELECT debit_account_id, SUM(amount) FROM ledger_transfers WHERE {posted} GROUP BY 1")
            )
        )
        cpo = _sum_by(
            conn.execute(
                text(f"SELECT credit_account_id, SUM(amount) FROM ledger_transfers WHERE {posted} GROUP BY 1")
            )
        )
        still_pending = (
            "FROM ledger_transfers t JOIN ledger_pending_status p ON p.id = t.id"
            f" WHERE p.status = {STATUS_PENDING}"
        )
        dp = _sum_by(
            conn.execute(text(f"SELECT t.debit_account_id, SUM(t.amount) {still_pending} GROUP BY 1"))
        )
        cp = _sum_by(
            conn.execute(text(f"SELECT t.credit_account_id, SUM(t.amount) {still_pending} GROUP BY 1"))
        )
        # Every pending transfer with its status row and the post/void that resolved it (if any).
        pendings = conn.execute(
            text(
                "SELECT t.id, t.flags, t.amount, t.debit_account_id, t.credit_account_id, t.timestamp,"
                " t.timeout, p.status, p.expires_at, p.timestamp AS p_ts,"
                " r.flags AS r_flags, r.amount AS r_amount, r.debit_account_id AS r_dr,"
                " r.credit_account_id AS r_cr, r.timestamp AS r_ts"
                " FROM ledger_transfers t"
                " LEFT JOIN ledger_pending_status p ON p.id = t.id"
                " LEFT JOIN ledger_transfers r ON r.pending_id = t.id"
                " WHERE (t.flags & 2) != 0"
            )
        ).all()
        orphan_status = conn.execute(
            text(
                "SELECT COUNT(*) FROM ledger_pending_status p"
                " LEFT JOIN ledger_transfers t ON t.id = p.id WHERE t.id IS NULL OR (t.flags & 2) = 0"
            )
        ).scalar_one()
        dangling_resolutions = conn.execute(
            text(
                "SELECT COUNT(*) FROM ledger_transfers r LEFT JOIN ledger_transfers t ON t.id = r.pending_id"
                " WHERE r.pending_id IS NOT NULL AND (t.id IS NULL OR (t.flags & 2) = 0"
                " OR (r.flags & 12) = 0)"
            )
        ).scalar_one()
        burnt_and_stored = conn.execute(
            text("SELECT COUNT(*) FROM ledger_failed_ids f JOIN ledger_transfers t ON t.id = f.id")
        ).scalar_one()
        transfer_count = int(conn.execute(text("SELECT COUNT(*) FROM ledger_transfers")).scalar_one())
        failed_count = int(conn.execute(text("SELECT COUNT(*) FROM ledger_failed_ids")).scalar_one())
        clock = int(conn.execute(text("SELECT last_timestamp FROM ledger_clock WHERE id = 1")).scalar_one())
        max_ts = [
            conn.execute(text(f"SELECT MAX(timestamp) FROM {table}")).scalar_one()
            for table in (
                "ledger_accounts",
                "ledger_transfers",
                "ledger_pending_status",
                "ledger_failed_ids",
                "ledger_account_balances",
            )
        ]

    assert orphan_status == 0, "a pending_status row without its pending transfer"
    assert dangling_resolutions == 0, "a post/void whose pending_id is not a stored pending transfer"
    assert burnt_and_stored == 0, "an id is both stored and burnt"
    for value in max_ts:
        assert value is None or int(value) <= clock, f"clock {clock} is behind a stored timestamp {value}"

    # Closing transfers: an account is closed exactly while a closing pending transfer on it is pending
    # or posted (the pool never creates accounts already closed).
    closers: set[int] = set()
    statuses: dict[int, int] = {}
    for r in pendings:
        pid = dec128(r.id)
        assert r.status is not None, f"pending transfer {pid} has no status row"
        statuses[pid] = int(r.status)
        expires_at = int(r.timestamp) + int(r.timeout) * 1_000_000_000 if r.timeout else None
        if r.status in (STATUS_PENDING, STATUS_EXPIRED):  # (a post/void may store the expiry or not)
            assert r.expires_at == expires_at, f"pending transfer {pid} has a wrong expiry time"
        if r.status == STATUS_PENDING:
            assert r.r_flags is None, f"pending transfer {pid} is still pending but was resolved"
        elif r.status == STATUS_EXPIRED:
            assert r.r_flags is None, f"expired pending transfer {pid} was also resolved"
            assert r.timeout > 0, f"pending transfer {pid} expired without a timeout"
            assert int(r.p_ts) > int(r.timestamp), f"pending transfer {pid} expired before it was created"
        else:
            assert r.r_flags is not None, f"pending transfer {pid} has status {r.status} but no post/void"
            assert int(r.p_ts) == int(r.r_ts), f"status timestamp of {pid} differs from its resolution"
            assert (r.r_dr, r.r_cr) == (r.debit_account_id, r.credit_account_id)
            assert r.r_ts > r.timestamp
            if r.status == STATUS_POSTED:
                assert int(r.r_flags) & _POST
                assert int(r.r_amount) <= int(r.amount)
            else:
                assert r.status == STATUS_VOIDED
                assert int(r.r_flags) & _VOID
                assert int(r.r_amount) == int(r.amount)
        if r.status in (STATUS_PENDING, STATUS_POSTED):
            if int(r.flags) & _CLOSING_DEBIT:
                closers.add(dec128(r.debit_account_id))
            if int(r.flags) & _CLOSING_CREDIT:
                closers.add(dec128(r.credit_account_id))

    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    snapshot_accounts: dict[int, tuple[int, int, int, int, int]] = {}
    for account_id, (ledger, flags, a_dp, a_dpo, a_cp, a_cpo) in accounts.items():
        expected = (
            dp.get(account_id, 0),
            dpo.get(account_id, 0),
            cp.get(account_id, 0),
            cpo.get(account_id, 0),
        )
        assert (a_dp, a_dpo, a_cp, a_cpo) == expected, (
            f"account {account_id}: balances {(a_dp, a_dpo, a_cp, a_cpo)} != sum of transfers {expected}"
        )
        assert min(a_dp, a_dpo, a_cp, a_cpo) >= 0
        if flags & _DMNEC:
            assert a_dp + a_dpo <= a_cpo, f"account {account_id} overdrawn (debits exceed credits)"
        if flags & _CMNED:
            assert a_cp + a_cpo <= a_dpo, f"account {account_id} credits exceed debits"
        assert bool(flags & _CLOSED) == (account_id in closers), f"closed flag of {account_id} inconsistent"
        t = totals[ledger]
        t[0] += a_dp
        t[1] += a_dpo
        t[2] += a_cp
        t[3] += a_cpo
        snapshot_accounts[account_id] = (a_dp, a_dpo, a_cp, a_cpo, flags)
    for ledger, (l_dp, l_dpo, l_cp, l_cpo) in totals.items():
        assert l_dpo == l_cpo, f"ledger {ledger}: Σ debits_posted {l_dpo} != Σ credits_posted {l_cpo}"
        assert l_dp == l_cp, f"ledger {ledger}: Σ debits_pending {l_dp} != Σ credits_pending {l_cp}"
    return LedgerSnapshot(snapshot_accounts, transfer_count, statuses, failed_count, clock)
