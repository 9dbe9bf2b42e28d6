"""The worker's sweep of deposit holds: holds past their expiry (the ledger released their money) and
requests the user did not approve in time become ``expired``, and their merchants are told."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from earnloop.ledger.service import LedgerService
from earnloop.outbox import service as outbox
from earnloop.wallet.holds.models import deposit_holds as holds
from earnloop.wallet.holds.service import SWEEP_BATCH_MAX, hold_dict, load


def _expire_requests(conn: Connection, now_ns: int) -> int:
    """Record ``expired`` on requests the user did not approve in time; tell the merchant."""
    rows = conn.execute(
        select(holds.c.hold_id, holds.c.partner_id)
        .where(holds.c.state == "requested", holds.c.approve_by_ns <= now_ns)
        .order_by(holds.c.approve_by_ns, holds.c.hold_id)
        .limit(SWEEP_BATCH_MAX)
    ).all()
    count = 0
    for row in rows:
        changed = conn.execute(
            update(holds)
            .where(holds.c.hold_id == row.hold_id, holds.c.state == "requested")
            .values(state="expired", reason="expired", updated_at_ns=now_ns)
        ).rowcount
        if changed == 1:
            answer = hold_dict(load(conn, row.hold_id), now_ns)
            outbox.emit(
                conn, topic="hold.declined", partner_id=row.partner_id, payload={**answer, "at_ns": now_ns}
            )
            count += 1
    return count


def mark_expired(conn: Connection, ledger: LedgerService, now_ns: int) -> int:
    """Record ``expired`` on holds whose expiry has passed (the ledger released their money) and tell the
    merchant (``hold.released``, reason ``expired``); requests not approved in time become ``expired``
    too (``hold.declined``, reason ``expired``). Up to one batch of each; returns how many."""
    rows = conn.execute(
        select(holds)
        .where(holds.c.state == "held", holds.c.expires_at_ns <= now_ns)
        .order_by(holds.c.expires_at_ns, holds.c.hold_id)
        .limit(SWEEP_BATCH_MAX)
    ).all()
    if rows:  # make sure the ledger has released them (it would at its next write anyway)
        ledger.expire_pending_transfers(conn)
    count = 0
    for row in rows:
        changed = conn.execute(
            update(holds)
            .where(holds.c.hold_id == row.hold_id, holds.c.state == "held")
            .values(state="expired", reason="expired", updated_at_ns=now_ns)
        ).rowcount
        if changed != 1:
            continue  # captured or released concurrently (before the expiry)
        answer = hold_dict(load(conn, row.hold_id), now_ns)
        outbox.emit(
            conn, topic="hold.released", partner_id=row.partner_id, payload={**answer, "at_ns": now_ns}
        )
        count += 1
    return count + _expire_requests(conn, now_ns)
