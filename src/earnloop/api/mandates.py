"""``/v1/me/mandates``: a user grants a merchant a standing mandate to hold deposits at once (within a
limit per hold and in total, until an expiry), lists them, and revokes one at once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from earnloop.api.deps import IdempotencyKey, User
from earnloop.api.problems import problem_responses
from earnloop.wallet.holds import mandates
from earnloop.wallet.holds.schemas import Mandate
from earnloop.wallet.schemas import AMOUNT_MAX, Amount, CurrencyCode, Strict, from_ns

router = APIRouter(prefix="/v1", tags=["deposit holds"], responses=problem_responses(401, 403, 404, 409, 422))

MandateId = Annotated[str, Path(min_length=1, max_length=40)]


class MandateIn(Strict):
    partner_id: int = Field(ge=1, le=(1 << 63) - 1, description="The merchant you allow to hold deposits.")
    currency: str = CurrencyCode
    total_limit: int = Amount
    max_per_hold: int | None = Field(default=None, gt=0, le=AMOUNT_MAX, description="Default: no own limit.")
    expires_in_s: int = Field(ge=mandates.TTL_MIN_S, le=mandates.TTL_MAX_S)


class MandateOut(BaseModel):
    mandate_id: str
    user_id: int
    partner_id: int
    currency: str
    total_limit: int = Field(description="The most the merchant can ever hold under this mandate.")
    max_per_hold: int | None
    used: int = Field(description="The sum of the holds placed under it so far.")
    state: str = Field(description="active, revoked or expired")
    expires_at: datetime
    revoked_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, m: Mandate) -> MandateOut:
        revoked = m["revoked_at_ns"]
        return cls(
            **{k: v for k, v in m.items() if not k.endswith("_ns")},
            expires_at=from_ns(m["expires_at_ns"]),
            revoked_at=None if revoked is None else from_ns(revoked),
            created_at=from_ns(m["created_at_ns"]),
        )


@router.post("/me/mandates", response_model=MandateOut, status_code=201)
def grant_mandate(body: MandateIn, user: User, key: IdempotencyKey) -> MandateOut:
    """Let a merchant hold deposits from your wallet without asking each time, within the limits."""
    with user.ctx.db.uow() as conn:
        granted = mandates.grant(
            conn,
            user.ctx.ledger,
            idempotency_key=key,
            user_id=user.user_id,
            partner_id=body.partner_id,
            currency_code=body.currency,
            total_limit=body.total_limit,
            max_per_hold=body.max_per_hold,
            expires_in_s=body.expires_in_s,
        )
    return MandateOut.of(granted)


@router.get("/me/mandates", response_model=list[MandateOut])
def list_mandates(
    user: User, limit: Annotated[int, Query(ge=1, le=mandates.LIST_MAX)] = 50
) -> list[MandateOut]:
    """Your mandates, newest first (active, revoked and expired)."""
    with user.ctx.db.uow(write=False) as conn:
        return [
            MandateOut.of(m) for m in mandates.list_mandates(conn, user.ctx.ledger, user.user_id, limit=limit)
        ]


@router.delete("/me/mandates/{mandate_id}", status_code=204)
def revoke_mandate(mandate_id: MandateId, user: User) -> Response:
    """Revoke a mandate at once: no new hold can use it (holds already placed stay)."""
    with user.ctx.db.uow() as conn:
        mandates.revoke(conn, user.ctx.ledger, user_id=user.user_id, mandate_id=mandate_id)
    return Response(status_code=204)
