"""Tracking secrets: each provider's shared secret or token (Tapjoy, ayeT-Studios, AppsFlyer) and the
``earnloop`` scheme's secrets, which belong to each game publisher (ADR 0016): a publisher signs the
postbacks of its own games only. Two active secrets = a rotation. Values are never returned or logged.

Values are stored sealed (:mod:`earnloop.secretbox`, ADR 0019) beside their digest, by which a row is
found and kept unique. Reading them for a postback opens them through the box's in-process cache, so a
postback costs no decryption after the first with the same stored value.

For an ``earnloop`` postback, whose secrets verify it follows from the click id its body names
(:func:`earnloop_signer`): the clicked game's publisher's. The signature covers that click id, and the
earn path binds the same click, so a publisher's secret can never pay another publisher's game.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, insert, select, update

from earnloop.auth.service import get_partner
from earnloop.catalog import service as catalog
from earnloop.db import driver
from earnloop.secretbox import PLAINTEXT_MAX_BYTES, SecretBox, digest, process_box
from earnloop.tracking.errors import PartnerNotFoundError, TrackingError
from earnloop.tracking.models import tracking_clicks as clicks
from earnloop.tracking.models import tracking_partner_secrets as partner_secrets
from earnloop.tracking.models import tracking_provider_secrets as provider_secrets
from earnloop.tracking.verifiers import PROVIDERS

SECRET_MIN_LEN, SECRET_MAX_LEN = 16, PLAINTEXT_MAX_BYTES  # characters; at most that many bytes too
ACTIVE_SECRETS_MAX = 2  # the current secret and, during a rotation, the next one
PER_PARTNER = "earnloop"  # the scheme whose secrets belong to game publishers
PUBLISHER_KIND = "game_publisher"


def provider_hint(provider: str) -> str:
    """Where an operator sets a provider's secret (said by 503s and refusals)."""
    return f"PUT /v1/admin/tracking/providers/{provider}/secrets or `earnloop tracking set-secret {provider}`"


def partner_hint(partner_id: int | str) -> str:
    """Where an operator sets a game publisher's ``earnloop`` secret."""
    return (
        f"PUT /v1/admin/tracking/partners/{partner_id}/secrets"
        f" or `earnloop tracking set-partner-secret {partner_id}`"
    )


def stored_row(conn: Connection, table: Table, owner: dict[str, Any], secret: str) -> Any:
    """The owner's row (``id``, ``active``) holding ``secret`` in a secrets table, found by its digest;
    ``None`` if there is none."""
    where = [table.c[column] == value for column, value in owner.items()]
    query = select(table.c.id, table.c.active).where(*where, table.c.secret_digest == digest(secret))
    return conn.execute(query).first()


def store_secret(
    conn: Connection,
    table: Table,
    owner: dict[str, Any],
    secret: str,
    *,
    active: bool,
    now_ns: int,
    box: SecretBox | None = None,
) -> int:
    """Insert the owner's ``secret`` (sealed with ``box``, default the process's, beside its digest) into
    a secrets table (provider, publisher or merchant postback secrets), or set the ``active`` flag of the
    row it already has; returns the row's id."""
    row = stored_row(conn, table, owner, secret)
    if row is not None:
        conn.execute(update(table).where(table.c.id == row.id).values(active=active, updated_at_ns=now_ns))
        return int(row.id)
    sealed = (box or process_box()).seal(secret)
    stored = conn.execute(
        insert(table)
        .values(
            **owner,
            secret=sealed,
            secret_digest=digest(secret),
            active=active,
            created_at_ns=now_ns,
            updated_at_ns=now_ns,
        )
        .returning(table.c.id)
    )
    return int(stored.scalar_one())


def secret_fits(secret: str) -> bool:
    """Whether ``secret`` has an accepted length (characters, and bytes once encoded)."""
    return len(secret) >= SECRET_MIN_LEN and len(secret.encode()) <= SECRET_MAX_LEN


def _check_length(secret: str) -> None:
    if not secret_fits(secret):
        raise TrackingError(
            f"secret: {SECRET_MIN_LEN}–{SECRET_MAX_LEN} characters, at most {SECRET_MAX_LEN} bytes in UTF-8"
        )


def _listed(rows: Any, owner: str) -> list[dict[str, Any]]:
    return [
        {
            owner: r._mapping[owner],
            "secret_id": r.id,
            "active": bool(r.active),
            "created_at_ns": r.created_at_ns,
        }
        for r in rows
    ]


# -- providers ----------------------------------------------------------------------------------------
def set_provider_secret(
    conn: Connection,
    *,
    provider: str,
    secret: str,
    active: bool,
    now_ns: int,
    box: SecretBox | None = None,
) -> dict[str, Any]:
    """Add a secret (AppsFlyer: the push token) for a provider or (de)activate it; two active secrets =
    a rotation. The ``earnloop`` scheme has no provider-wide secret: see :func:`set_partner_secret`."""
    if provider not in PROVIDERS:
        raise TrackingError(f"no verifier for {provider!r}")
    if provider == PER_PARTNER:
        raise TrackingError(
            "earnloop postbacks are signed by each game's publisher with its own secret: "
            + partner_hint("{partner_id}")
        )
    _check_length(secret)
    owner = {"provider": provider}
    secret_id = store_secret(conn, provider_secrets, owner, secret, active=active, now_ns=now_ns, box=box)
    return {"provider": provider, "secret_id": secret_id, "active": active}


def list_provider_secrets(conn: Connection, provider: str) -> list[dict[str, Any]]:
    """The provider's secrets without their values."""
    table = provider_secrets
    rows = conn.execute(select(table).where(table.c.provider == provider).order_by(table.c.id))
    return _listed(rows, "provider")


_ACTIVE_SECRETS = (
    select(provider_secrets.c.secret)
    .where(provider_secrets.c.provider == bindparam("provider"), provider_secrets.c.active.is_(True))
    .order_by(provider_secrets.c.id)
)


def active_secrets(conn: Connection, provider: str, box: SecretBox | None = None) -> list[str]:
    """The provider's active secrets, opened (through ``box``'s cache; default the process's box)."""
    opener = box or process_box()
    stored = driver.scalars(conn, _ACTIVE_SECRETS, {"provider": provider})
    return [opener.open_cached(str(value)) for value in stored]


# -- game publishers (the earnloop scheme) --------------------------------------------------------------
_ACTIVE_PARTNER_SECRETS = (
    select(partner_secrets.c.secret)
    .where(partner_secrets.c.partner_id == bindparam("partner_id"), partner_secrets.c.active.is_(True))
    .order_by(partner_secrets.c.id)
)


def active_partner_secrets(conn: Connection, partner_id: int, box: SecretBox | None = None) -> list[str]:
    """The publisher's active ``earnloop`` secrets, opened (default: the process's box)."""
    opener = box or process_box()
    stored = driver.scalars(conn, _ACTIVE_PARTNER_SECRETS, {"partner_id": partner_id})
    return [opener.open_cached(str(value)) for value in stored]


def set_partner_secret(
    conn: Connection,
    *,
    partner_id: int,
    secret: str,
    active: bool,
    now_ns: int,
    box: SecretBox | None = None,
) -> dict[str, Any]:
    """Add a game publisher's ``earnloop`` secret or (de)activate one; at most two are active."""
    partner = get_partner(conn, partner_id)
    if partner is None:
        raise PartnerNotFoundError(f"no partner {partner_id}")
    if partner.kind != PUBLISHER_KIND:
        raise TrackingError(f"partner {partner_id} is a {partner.kind}, not a {PUBLISHER_KIND}")
    _check_length(secret)
    owner = {"partner_id": partner_id}
    row = stored_row(conn, partner_secrets, owner, secret)
    already_active = row is not None and bool(row.active)
    if active and not already_active and _active_count(conn, partner_id) >= ACTIVE_SECRETS_MAX:
        raise TrackingError(
            f"partner {partner_id} has {ACTIVE_SECRETS_MAX} active secrets: deactivate one first"
        )
    secret_id = store_secret(conn, partner_secrets, owner, secret, active=active, now_ns=now_ns, box=box)
    return {"partner_id": partner_id, "secret_id": secret_id, "active": active}


def _active_count(conn: Connection, partner_id: int) -> int:
    return len(driver.scalars(conn, _ACTIVE_PARTNER_SECRETS, {"partner_id": partner_id}))


def list_partner_secrets(conn: Connection, partner_id: int) -> list[dict[str, Any]]:
    """The publisher's secrets without their values."""
    table = partner_secrets
    rows = conn.execute(select(table).where(table.c.partner_id == partner_id).order_by(table.c.id))
    return _listed(rows, "partner_id")


@dataclass(frozen=True)
class Signer:
    """Who signs ``earnloop`` postbacks for a click: the clicked game's publisher and its active secrets."""

    game_key: str
    publisher_id: int | None
    secrets: list[str]


# The click's game, its publisher and the publisher's active secrets, in one statement (the catalog's
# games joined through the selectable it publishes for that).
_games = catalog.game_publishers()
_SIGNER = (
    select(_games.c.key, _games.c.publisher_id, partner_secrets.c.secret)
    .select_from(
        clicks.join(_games, _games.c.id == clicks.c.game_id).outerjoin(
            partner_secrets,
            and_(partner_secrets.c.partner_id == _games.c.publisher_id, partner_secrets.c.active.is_(True)),
        )
    )
    .where(clicks.c.click_id == bindparam("click_id"))
    .order_by(partner_secrets.c.id)
)


def earnloop_signer(conn: Connection, click_id: str, box: SecretBox | None = None) -> Signer | None:
    """The publisher who signs for ``click_id``'s game, with its active secrets (opened through ``box``'s
    cache; default the process's box); ``None``: no such click."""
    found = driver.rows(conn, _SIGNER, {"click_id": click_id})
    if not found:
        return None
    first = found[0]
    publisher = None if first.publisher_id is None else int(first.publisher_id)
    opener = box or process_box()
    opened = [opener.open_cached(str(r.secret)) for r in found if r.secret is not None]
    return Signer(str(first.key), publisher, opened)
