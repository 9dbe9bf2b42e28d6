"""Affiliate service: merchants' postback secrets, users' clicks on merchant links (the redirect carries
our click id), and the read views of conversions and of the update requests received.

Every function takes the caller's connection and never commits. Conversions themselves change only
through :mod:`earnloop.affiliate.conversions`.
"""

from __future__ import annotations

import secrets as token_source
from typing import Any

from sqlalchemy import Connection, insert, select

from earnloop.affiliate.conversions import conversion_dict
from earnloop.affiliate.errors import AffiliateError
from earnloop.affiliate.models import affiliate_clicks as clicks
from earnloop.affiliate.models import affiliate_conversions as conversions
from earnloop.affiliate.models import affiliate_merchant_secrets as merchant_secrets
from earnloop.affiliate.models import affiliate_requests as requests
from earnloop.catalog import service as catalog
from earnloop.catalog.errors import CatalogNotFoundError
from earnloop.secretbox import SecretBox, process_box
from earnloop.tracking import service as tracking

SECRET_MIN_LEN, SECRET_MAX_LEN = tracking.SECRET_MIN_LEN, tracking.SECRET_MAX_LEN  # one rule for postbacks
ACTIVE_SECRETS_MAX = 2  # the current secret and, during a rotation, the next one
LIST_MAX = 1000


# -- secrets ------------------------------------------------------------------------------------------
def set_secret(
    conn: Connection,
    *,
    merchant_id: int,
    secret: str,
    active: bool,
    now_ns: int,
    box: SecretBox | None = None,
) -> dict[str, Any]:
    """Add a postback secret for a merchant (stored sealed with ``box``, default the process's) or
    (de)activate one; at most two are active (rotation)."""
    catalog.get_merchant(conn, merchant_id)
    if not tracking.secret_fits(secret):
        raise AffiliateError(
            f"secret: {SECRET_MIN_LEN}–{SECRET_MAX_LEN} characters, at most {SECRET_MAX_LEN} bytes in UTF-8"
        )
    owner = {"merchant_id": merchant_id}
    row = tracking.stored_row(conn, merchant_secrets, owner, secret)
    if active and (row is None or not row.active) and _active_count(conn, merchant_id) >= ACTIVE_SECRETS_MAX:
        raise AffiliateError(
            f"merchant {merchant_id} has {ACTIVE_SECRETS_MAX} active secrets: deactivate one first"
        )
    secret_id = tracking.store_secret(
        conn, merchant_secrets, owner, secret, active=active, now_ns=now_ns, box=box
    )
    return {"merchant_id": merchant_id, "secret_id": secret_id, "active": active}


def list_secrets(conn: Connection, merchant_id: int) -> list[dict[str, Any]]:
    """The merchant's secrets without their values."""
    catalog.get_merchant(conn, merchant_id)
    rows = conn.execute(
        select(merchant_secrets)
        .where(merchant_secrets.c.merchant_id == merchant_id)
        .order_by(merchant_secrets.c.id)
    )
    return [
        {
            "merchant_id": r.merchant_id,
            "secret_id": r.id,
            "active": bool(r.active),
            "created_at_ns": r.created_at_ns,
        }
        for r in rows
    ]


def _active_stored(conn: Connection, merchant_id: int) -> list[str]:
    return list(
        conn.execute(
            select(merchant_secrets.c.secret)
            .where(merchant_secrets.c.merchant_id == merchant_id, merchant_secrets.c.active.is_(True))
            .order_by(merchant_secrets.c.id)
        ).scalars()
    )


def _active_count(conn: Connection, merchant_id: int) -> int:
    return len(_active_stored(conn, merchant_id))


def active_secrets(conn: Connection, merchant_id: int, box: SecretBox | None = None) -> list[str]:
    """The merchant's active postback secrets, opened through ``box``'s cache (default: the process's
    box), so a postback costs no decryption after the first."""
    opener = box or process_box()
    return [opener.open_cached(stored) for stored in _active_stored(conn, merchant_id)]


# -- clicks -------------------------------------------------------------------------------------------
def device_of(user_agent: str) -> str:
    """A coarse device class from the user agent: ios, android, desktop or other."""
    agent = user_agent.lower()
    if any(mark in agent for mark in ("iphone", "ipad", "ipod")):
        return "ios"
    if "android" in agent:
        return "android"
    if any(mark in agent for mark in ("windows", "macintosh", "x11", "linux", "cros")):
        return "desktop"
    return "other"


def record_click(
    conn: Connection, *, user_id: int, merchant_id: int, user_agent: str, client_ip: str, now_ns: int
) -> dict[str, Any]:
    """Record a user's click on a merchant whose tracking template carries ``{click_id}``; return the
    click id and where to send the user (the template with the click id substituted, URL-encoded)."""
    merchant = catalog.get_merchant(conn, merchant_id)
    template = merchant["tracking_template"]
    if not template or "{click_id}" not in template:
        raise CatalogNotFoundError(f"merchant {merchant_id} has no active tracking link")
    click_id = token_source.token_urlsafe(16)
    location = tracking.store_url(
        app_store_id=None, play_package=None, user_agent=user_agent, click_id=click_id, template=template
    )
    assert location is not None  # a template always gives a location
    conn.execute(
        insert(clicks).values(
            click_id=click_id,
            user_id=user_id,
            merchant_id=merchant_id,
            device=device_of(user_agent),
            user_agent=user_agent[:500],
            client_ip=client_ip[:64],
            destination=location[:2000],
            created_at_ns=now_ns,
        )
    )
    return {"click_id": click_id, "merchant_id": merchant_id, "location": location}


# -- views --------------------------------------------------------------------------------------------
def list_conversions(
    conn: Connection,
    *,
    user_id: int | None = None,
    merchant_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Conversions, newest first, each with its status and the reward it currently pays."""
    query = select(conversions).order_by(conversions.c.id.desc()).limit(min(limit, LIST_MAX))
    if user_id is not None:
        query = query.where(conversions.c.user_id == user_id)
    if merchant_id is not None:
        query = query.where(conversions.c.merchant_id == merchant_id)
    if status is not None:
        query = query.where(conversions.c.status == status)
    return [conversion_dict(conn, row) for row in conn.execute(query).all()]


def list_requests(
    conn: Connection, *, merchant_id: int | None = None, outcome: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Update requests as received (postbacks and report rows), newest first, with their outcome."""
    query = select(requests).order_by(requests.c.id.desc()).limit(min(limit, LIST_MAX))
    if merchant_id is not None:
        query = query.where(requests.c.merchant_id == merchant_id)
    if outcome is not None:
        query = query.where(requests.c.outcome == outcome)
    return [
        {
            "request_id": r.id,
            "merchant_id": r.merchant_id,
            "channel": r.channel,
            "row_number": r.row_number,
            "outcome": r.outcome,
            "reason_code": r.reason_code,
            "order_id": r.order_id,
            "click_id": r.click_id,
            "status": r.status,
            "order_amount": r.order_amount,
            "reply_status": r.reply_status,
            "received_at_ns": r.received_at_ns,
        }
        for r in conn.execute(query)
    ]
