"""How the wallet's money-moving use cases act on a risk decision (issue 15, ADR 0028): payments and
withdrawals screen their event with :func:`earnloop.risk.screening.screen` before any money moves, and
a refusal is *kept*: the decision and the refusal (stored as the idempotency key's answer) commit, so a
retry with the same key gets the same answer without being screened again.

Owns :class:`Presence` (where a request came from: the entity keys ``ip``/``ip24``/``device``),
:func:`event_ref` (an event's reference, stable across retries of one request), the refusals
(:class:`RiskDeniedError`, :class:`RiskHeldError`), :func:`refuse_unless_allowed` (store and raise the
refusal), :func:`raise_if_refused` (the replay of a stored one) and :func:`keep_refusal` /
:func:`unwrap` (how a face commits the refusal before answering with it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection

from earnloop.idempotency import service as idem
from earnloop.risk.events import EntityKey
from earnloop.risk.keys import address_keys
from earnloop.risk.screening import ScreenResult
from earnloop.wallet.errors import WalletError

REFUSED = "risk_refused"  # the key of a refusal stored as an idempotency answer
DEVICE_ID_CHARS_MAX = 128
P = ParamSpec("P")
T = TypeVar("T")


class RiskRefusedError(WalletError):
    """Risk screening refused the money movement; nothing moved. Raised after the decision and the
    refusal were written: a face that commits them (:func:`keep_refusal`) makes retries get it again."""

    status = 403
    slug = "risk-denied"
    title = "Refused by risk screening"


class RiskDeniedError(RiskRefusedError):
    pass


class RiskHeldError(RiskRefusedError):
    slug = "risk-review"
    title = "Held for a risk review"


@dataclass(frozen=True, slots=True)
class Presence:
    """Where a user's request came from: the client address and the app's device id (``X-Device-Id``)."""

    client_ip: str = ""
    device_id: str | None = None

    def keys(self) -> dict[EntityKey, str]:
        keys = address_keys(self.client_ip) if self.client_ip else {}
        if self.device_id and self.device_id.strip():
            keys["device"] = self.device_id.strip()[:DEVICE_ID_CHARS_MAX]
        return keys


UNKNOWN = Presence()  # a request not made by the user's own app (a till, support, a script)


def event_ref(kind: str, scope: str, idempotency_key: str) -> str:
    """The reference of the event a keyed request screens: the same for every retry of the request."""
    digest = hashlib.sha256(f"{scope}\0{idempotency_key}".encode()).hexdigest()[:40]
    return f"{kind}:{digest}"


def refuse_unless_allowed(
    conn: Connection, decision: ScreenResult, *, scope: str, idempotency_key: str, what: str
) -> None:
    """Nothing on ``allow``; otherwise store the refusal as the key's answer and raise it."""
    if decision.outcome == "allow":
        return
    answer = {REFUSED: decision.outcome, "what": what}
    idem.complete(conn, scope, idempotency_key, answer)
    raise _refusal(answer)


def raise_if_refused(replay: Mapping[str, Any]) -> None:
    """Raise the refusal an idempotency replay holds (a retry of a refused request)."""
    if REFUSED in replay:
        raise _refusal(replay)


def _refusal(answer: Mapping[str, Any]) -> RiskRefusedError:
    what = str(answer["what"])
    if answer[REFUSED] == "deny":
        return RiskDeniedError(f"the {what} was refused by risk screening; nothing moved")
    return RiskHeldError(f"the {what} is held for a review by the risk team; nothing moved (try again later)")


def keep_refusal(work: Callable[P, T]) -> Callable[P, T | RiskRefusedError]:
    """``work`` returning its refusal instead of raising it, so that the unit of work running it commits
    the decision and the stored refusal; the face then raises it with :func:`unwrap`."""

    def kept(*args: P.args, **kwargs: P.kwargs) -> T | RiskRefusedError:
        try:
            return work(*args, **kwargs)
        except RiskRefusedError as refused:
            return refused

    return kept


def unwrap(result: T | RiskRefusedError) -> T:
    """The result, or the kept refusal raised (after its unit of work committed)."""
    if isinstance(result, RiskRefusedError):
        raise result
    return result
