"""The credit features of :mod:`earnloop.credit.features` computed per user from the database, as of a
point in time: ``feature_frame(conn, user_ids, as_of_ns)`` counts only rows created (and state changes
made) before ``as_of_ns``, so a model trained on past snapshots never sees the future
(``docs/credit-features.md``: each feature, its source and its point-in-time rule).

Read only. No service of the domains read here lists many users' activity at once, so — like
:mod:`earnloop.recs.interactions` — this module selects from their tables (one grouped query per
source for the whole batch) and reads the ledger through its history queries
(:mod:`earnloop.credit.features_ledger`). It writes nothing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Connection, and_, func, literal, or_, select, union_all

from earnloop.affiliate.models import affiliate_clicks, affiliate_conversions
from earnloop.auth.models import user_passkeys, users
from earnloop.credit.features import FEATURE_NAMES
from earnloop.credit.features_ledger import NS_PER_DAY, WINDOW_DAYS, ledger_features
from earnloop.einvoice.models import einvoice_carriers
from earnloop.risk.list_models import risk_list_entries
from earnloop.risk.models import risk_decisions
from earnloop.tracking.models import tracking_clicks, tracking_conversions
from earnloop.wallet.cashback.models import cashback_entries
from earnloop.wallet.escrow.models import escrow_trades
from earnloop.wallet.withdrawals.models import payout_destinations

BATCH = 500
EARN_CATEGORIES = ("game", "shopping", "einvoice")
PROFILE_ITEMS = 3  # bound e-invoice carrier, payout destination, passkey
WEEKS = WINDOW_DAYS // 7


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), BATCH):
        yield list(ids[start : start + BATCH])


def _counts(conn: Connection, query: Any) -> dict[int, float]:
    return {int(r[0]): float(r[1] or 0) for r in conn.execute(query)}


def _identity(conn: Connection, ids: list[int], as_of: int) -> pd.DataFrame:
    u = users.c
    created = {
        int(r.id): int(r.created_at_ns)
        for r in conn.execute(select(u.id, u.created_at_ns).where(u.id.in_(ids)))
    }

    def has(table: Any, *extra: Any) -> set[int]:
        c = table.c
        query = select(c.user_id).where(c.user_id.in_(ids), c.created_at_ns < as_of, *extra).distinct()
        return {int(r[0]) for r in conn.execute(query)}

    carrier = has(einvoice_carriers, einvoice_carriers.c.status == "active")
    payout = has(payout_destinations)
    passkey = has(user_passkeys)
    frame = pd.DataFrame(index=pd.Index(ids, name="user_id"))
    frame["account_age_days"] = [max(0.0, (as_of - created.get(i, as_of)) / NS_PER_DAY) for i in ids]
    frame["has_passkey"] = [float(i in passkey) for i in ids]
    frame["profile_completeness"] = [
        ((i in carrier) + (i in payout) + (i in passkey)) / PROFILE_ITEMS for i in ids
    ]
    return frame


def _activity_times(ids: list[int], since: int, as_of: int) -> Any:
    """Every activity (clicks, conversions, cashback) of the users in the window: (user_id, at)."""
    parts = []
    for table, at in (
        (tracking_clicks, tracking_clicks.c.created_at_ns),
        (affiliate_clicks, affiliate_clicks.c.created_at_ns),
        (tracking_conversions, tracking_conversions.c.created_at_ns),
        (affiliate_conversions, affiliate_conversions.c.created_at_ns),
        (cashback_entries, cashback_entries.c.created_at_ns),
    ):
        parts.append(
            select(table.c.user_id.label("user_id"), at.label("at")).where(
                table.c.user_id.in_(ids), at >= since, at < as_of
            )
        )
    return union_all(*parts)


def _behaviour(conn: Connection, ids: list[int], as_of: int) -> pd.DataFrame:
    since = as_of - WINDOW_DAYS * NS_PER_DAY
    days: dict[int, set[int]] = {i: set() for i in ids}
    weeks: dict[int, np.ndarray] = {i: np.zeros(WEEKS + 1) for i in ids}
    for user_id, at in conn.execute(_activity_times(ids, since, as_of)):
        age = (as_of - int(at)) // NS_PER_DAY
        days[int(user_id)].add(age)
        weeks[int(user_id)][min(age // 7, WEEKS)] += 1
    c = cashback_entries.c
    categories = conn.execute(
        select(c.user_id, func.count(func.distinct(c.source)))
        .where(c.user_id.in_(ids), c.created_at_ns < as_of, c.source.in_(EARN_CATEGORIES))
        .group_by(c.user_id)
    )
    used = {int(r[0]): float(r[1]) for r in categories}
    frame = pd.DataFrame(index=pd.Index(ids, name="user_id"))
    frame["active_days_90d"] = [float(len(days[i])) for i in ids]
    frame["activity_regularity"] = [_regularity(weeks[i][:WEEKS]) for i in ids]
    frame["categories_used"] = [used.get(i, 0.0) for i in ids]
    return frame


def _regularity(weekly: np.ndarray) -> float:
    """1 − coefficient of variation of weekly activity, in 0..1 (0 without activity)."""
    mean = float(weekly.mean())
    if mean == 0:
        return 0.0
    return float(min(1.0, max(0.0, 1.0 - float(weekly.std()) / mean)))


def _payments(conn: Connection, ids: list[int], as_of: int) -> pd.DataFrame:
    c = cashback_entries.c
    mine = and_(c.user_id.in_(ids), c.created_at_ns < as_of)
    # reversed and clawed_back are final states: updated_at_ns is when the reversal happened
    reversed_before = and_(c.status.in_(("reversed", "clawed_back")), c.updated_at_ns < as_of)
    total = _counts(conn, select(c.user_id, func.sum(c.amount)).where(mine).group_by(c.user_id))
    reversed_amount = _counts(
        conn, select(c.user_id, func.sum(c.amount)).where(mine, reversed_before).group_by(c.user_id)
    )
    since = as_of - WINDOW_DAYS * NS_PER_DAY
    # released in the window and not reversed by then (clawed back later: it was earned at as_of)
    confirmed_then = and_(
        c.release_at_ns >= since,
        c.release_at_ns < as_of,
        c.status.in_(("confirmed", "clawed_back")),
        or_(c.status == "confirmed", c.updated_at_ns >= as_of),
    )
    earned = _counts(
        conn, select(c.user_id, func.sum(c.amount)).where(mine, confirmed_then).group_by(c.user_id)
    )
    e = escrow_trades.c
    finished = and_(
        e.buyer_user_id.in_(ids), e.updated_at_ns < as_of, e.state == "TRADE_FINISHED"
    )  # finished is final: updated_at_ns is when
    trades = _counts(conn, select(e.buyer_user_id, func.count()).where(finished).group_by(e.buyer_user_id))
    by_buyer = _counts(
        conn,
        select(e.buyer_user_id, func.count())
        .where(finished, e.close_reason == "buyer_confirmed")
        .group_by(e.buyer_user_id),
    )
    frame = pd.DataFrame(index=pd.Index(ids, name="user_id"))
    frame["reversed_share"] = [reversed_amount.get(i, 0.0) / total[i] if total.get(i) else 0.0 for i in ids]
    frame["escrow_confirmed_on_time"] = [
        by_buyer.get(i, 0.0) / trades[i] if trades.get(i) else 1.0 for i in ids
    ]
    frame["earned_90d"] = [earned.get(i, 0.0) for i in ids]
    return frame


def _flagged(as_of: int) -> Any:
    """Users flagged at ``as_of``: on the block list (key ``user``) then, or denied by risk before."""
    r = risk_list_entries.c
    listed = select(func.cast(r.value, BigInteger).label("user_id")).where(
        r.list == "block",
        r.key == "user",
        r.created_at_ns <= as_of,
        or_(r.removed_at_ns.is_(None), r.removed_at_ns > as_of),
        or_(r.expires_at_ns.is_(None), r.expires_at_ns > as_of),
    )
    d = risk_decisions.c
    denied = select(d.user_id).where(d.decision == "deny", d.user_id.is_not(None), d.created_at_ns < as_of)
    return union_all(listed, denied).subquery()


def _keys(as_of: int) -> Any:
    """(user, device or IP) pairs seen before ``as_of``."""
    t, a = tracking_clicks.c, affiliate_clicks.c
    return union_all(
        select(t.user_id, (literal("d:") + t.device_id).label("k")).where(
            t.created_at_ns < as_of, t.device_id.is_not(None)
        ),
        select(t.user_id, (literal("i:") + t.client_ip).label("k")).where(t.created_at_ns < as_of),
        select(a.user_id, (literal("i:") + a.client_ip).label("k")).where(a.created_at_ns < as_of),
    ).subquery()


def _connections(conn: Connection, ids: list[int], as_of: int) -> pd.DataFrame:
    mine, theirs, flagged = _keys(as_of), _keys(as_of), _flagged(as_of)
    shared = _counts(
        conn,
        select(mine.c.user_id, func.count(func.distinct(theirs.c.user_id)))
        .join(theirs, and_(theirs.c.k == mine.c.k, theirs.c.user_id != mine.c.user_id))
        .join(flagged, flagged.c.user_id == theirs.c.user_id)
        .where(mine.c.user_id.in_(ids))
        .group_by(mine.c.user_id),
    )
    d = risk_decisions.c
    denials = _counts(
        conn,
        select(d.user_id, func.count())
        .where(
            d.user_id.in_(ids),
            d.decision == "deny",
            d.created_at_ns >= as_of - WINDOW_DAYS * NS_PER_DAY,
            d.created_at_ns < as_of,
        )
        .group_by(d.user_id),
    )
    frame = pd.DataFrame(index=pd.Index(ids, name="user_id"))
    frame["shared_devices_flagged"] = [shared.get(i, 0.0) for i in ids]
    frame["risk_denials_90d"] = [denials.get(i, 0.0) for i in ids]
    # no referral graph is recorded yet: every user counts as "invited nobody" (1)
    frame["referral_quality"] = 1.0
    return frame


def _ledger(conn: Connection, ids: list[int], as_of: int, currency_code: str) -> pd.DataFrame:
    rows = [ledger_features(conn, i, as_of, currency_code) for i in ids]
    frame = pd.DataFrame(index=pd.Index(ids, name="user_id"))
    for name in ("balance_avg_90d", "spent_90d", "open_debt", "days_past_due", "debts_repaid_on_time"):
        frame[name] = [float(getattr(row, name)) for row in rows]
    return frame


def feature_frame(
    conn: Connection, user_ids: Sequence[int], as_of_ns: int, *, currency_code: str = "TWD"
) -> pd.DataFrame:
    """One row per user (index ``user_id``, in the order given), the catalogue's columns in its order,
    all as floats, from what was recorded before ``as_of_ns``."""
    parts = []
    for ids in _chunks(list(dict.fromkeys(int(i) for i in user_ids))):
        blocks = (
            _identity(conn, ids, as_of_ns),
            _behaviour(conn, ids, as_of_ns),
            _payments(conn, ids, as_of_ns),
            _connections(conn, ids, as_of_ns),
            _ledger(conn, ids, as_of_ns, currency_code),
        )
        parts.append(pd.concat(blocks, axis=1))
    if not parts:
        return pd.DataFrame(columns=list(FEATURE_NAMES), index=pd.Index([], name="user_id"), dtype=float)
    return pd.concat(parts)[list(FEATURE_NAMES)].astype(float)
