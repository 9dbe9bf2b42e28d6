"""The sign-in rate limit (ADR 0030): at most 5 failed attempts per handle and 20 per client IP in any
15 minutes; beyond that every attempt is refused — even with the right password — until the oldest
counted failure leaves the window. Kept in the database, so it holds across server processes.

An attempt is recorded *before* its password is checked (:func:`begin_attempt`) and removed when it
succeeds (:func:`attempt_succeeded`), so that attempts racing each other are counted too; a success
removes only its own row, never the failures of others. Refused attempts are not recorded (a locked
handle unlocks when the window passes, however often someone knocks).
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, or_, select

from earnloop.auth.models import sign_in_attempts
from earnloop.auth.service import AuthError

HANDLE_LIMIT = 5
IP_LIMIT = 20
WINDOW_S = 15 * 60
WINDOW_NS = WINDOW_S * 1_000_000_000
KEY_MAX = 64


class TooManyAttemptsError(AuthError):
    """Too many failed sign-ins for this handle or from this address; ``retry_after_s`` says when the
    next attempt will be taken."""

    status = 429
    slug = "too-many-attempts"
    title = "Too many sign-in attempts"

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"too many attempts, try again in {self.minutes} minutes")

    @property
    def minutes(self) -> int:
        return max(1, -(-self.retry_after_s // 60))


def _retry_at_ns(conn: Connection, column_name: str, key: str, limit: int, now_ns: int) -> int | None:
    """When an attempt for ``key`` will be taken again, or ``None`` when it is taken now: with ``limit``
    failures in the window, once the ``limit``-th newest of them leaves it."""
    column = sign_in_attempts.c[column_name]
    statement = (
        select(sign_in_attempts.c.attempted_at_ns)
        .where(column == key, sign_in_attempts.c.attempted_at_ns > now_ns - WINDOW_NS)
        .order_by(sign_in_attempts.c.attempted_at_ns.desc())
        .limit(limit)
    )
    times = [int(at) for at in conn.execute(statement).scalars()]
    return times[-1] + WINDOW_NS if len(times) >= limit else None


def begin_attempt(conn: Connection, handle: str, client_ip: str, *, now_ns: int) -> int:
    """Record a sign-in attempt (counted as a failure until :func:`attempt_succeeded`); returns its id.
    Raises :class:`TooManyAttemptsError` (nothing recorded) when the handle or the address is locked."""
    handle, client_ip = handle[:KEY_MAX], client_ip[:KEY_MAX]
    _prune(conn, handle, client_ip, now_ns)
    retry_at = [
        at
        for at in (
            _retry_at_ns(conn, "handle", handle, HANDLE_LIMIT, now_ns),
            _retry_at_ns(conn, "client_ip", client_ip, IP_LIMIT, now_ns),
        )
        if at is not None
    ]
    if retry_at:
        raise TooManyAttemptsError(-(-(max(retry_at) - now_ns) // 1_000_000_000))
    values = {"handle": handle, "client_ip": client_ip, "attempted_at_ns": now_ns}
    statement = insert(sign_in_attempts).values(**values).returning(sign_in_attempts.c.id)
    return int(conn.execute(statement).scalar_one())


def attempt_succeeded(conn: Connection, attempt_id: int) -> None:
    """The attempt signed in: it is no failure (the other attempts stay counted)."""
    conn.execute(delete(sign_in_attempts).where(sign_in_attempts.c.id == attempt_id))


def _prune(conn: Connection, handle: str, client_ip: str, now_ns: int) -> None:
    """Forget this handle's and this address's attempts that left the window."""
    conn.execute(
        delete(sign_in_attempts).where(
            or_(sign_in_attempts.c.handle == handle, sign_in_attempts.c.client_ip == client_ip),
            sign_in_attempts.c.attempted_at_ns <= now_ns - WINDOW_NS,
        )
    )
