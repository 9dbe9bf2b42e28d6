"""``/v1`` credit: the signed-in user's score (``GET /v1/me/credit``: score, sub-scores, the top
reasons in plain words, the privileges the score unlocks) and the operators' model registry
(``/v1/admin/credit``: list models, approve one — a named operator with the risk role, not its author —
re-score every user, the PSI report). Business rules live in :mod:`earnloop.credit`."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from earnloop.api.deps import RiskOperator, RiskReader, User
from earnloop.api.problems import problem_responses
from earnloop.credit import service as credit
from earnloop.wallet.schemas import from_ns

router = APIRouter(prefix="/v1", tags=["credit"], responses=problem_responses(401, 403, 404, 409, 422))
Version = Annotated[int, Path(ge=1, le=(1 << 62))]


class ReasonOut(BaseModel):
    feature: str
    dimension: str
    points: float = Field(description="How much it moved the score (negative: lowered it).")
    text: str = Field(description="The reason in plain words.")


class PrivilegeOut(BaseModel):
    band: str
    band_min: int
    currency: str
    deposit_free: bool
    deposit_reduced_pct: int
    withdrawal_limit: int | None
    cashback_release_days: int | None
    credit_line_limit: int
    unlocked: list[str] = Field(description="What the band unlocks, in plain words.")


class CreditOut(BaseModel):
    score: int | None = Field(description="350–950; null until a model is approved.")
    model_version: int | None
    subscores: dict[str, int] = Field(description="Per dimension, same range.")
    reasons: list[ReasonOut] = Field(description="The top reasons: what lowered the score first.")
    privileges: PrivilegeOut | None
    computed_at: datetime | None


class ModelOut(BaseModel):
    version: int
    name: str
    kind: str
    window_start: datetime
    window_end: datetime
    metrics: dict[str, float]
    created_by: str
    approved_by: str | None
    approved_at: datetime | None
    state: str


class RescoreOut(BaseModel):
    scored: int


class DriftOut(BaseModel):
    name: str
    psi: float
    alert: bool = Field(description="PSI above 0.25.")


def _credit(view: credit.CreditView) -> CreditOut:
    scored, privilege = view.score, view.privilege
    return CreditOut(
        score=None if scored is None else scored.score,
        model_version=None if scored is None else scored.model_version,
        subscores={} if scored is None else scored.subscores,
        reasons=[] if scored is None else [ReasonOut(**asdict(r)) for r in _reasons(scored)],
        privileges=None
        if privilege is None
        else PrivilegeOut(**asdict(privilege), unlocked=privilege.unlocked()),
        computed_at=None if scored is None else from_ns(scored.computed_at_ns),
    )


def _reasons(scored: credit.StoredScore) -> list[credit.Reason]:
    return list(scored.top_reasons())


def _model(m: credit.ModelInfo) -> ModelOut:
    return ModelOut(
        version=m.version,
        name=m.name,
        kind=m.kind,
        window_start=from_ns(m.window.start_ns),
        window_end=from_ns(m.window.end_ns),
        metrics=m.metrics,
        created_by=m.created_by,
        approved_by=m.approved_by,
        approved_at=None if m.approved_at_ns is None else from_ns(m.approved_at_ns),
        state=m.state,
    )


@router.get("/me/credit", response_model=CreditOut)
def my_credit(user: User) -> CreditOut:
    """Your credit score now, what moved it and what it unlocks."""
    with user.ctx.db.uow() as conn:
        view = credit.credit_view(conn, user.user_id, now_ns=user.ctx.ledger.clock.now_ns())
    return _credit(view)


@router.get("/admin/credit/models", response_model=list[ModelOut])
def list_models(who: RiskReader) -> list[ModelOut]:
    with who.ctx.db.uow(write=False) as conn:
        return [_model(m) for m in credit.list_models(conn)]


@router.post("/admin/credit/models/{version}/approve", response_model=ModelOut)
def approve_model(version: Version, who: RiskOperator) -> ModelOut:
    """Approve a draft model (four eyes: not its author); scoring uses it from now on."""
    with who.ctx.db.uow() as conn:
        return _model(credit.approve(conn, version, who.operator.name))


@router.post("/admin/credit/rescore", response_model=RescoreOut)
def rescore(who: RiskReader) -> RescoreOut:
    """Score every user with the approved champion now (stored)."""
    with who.ctx.db.uow() as conn:
        return RescoreOut(scored=credit.rescore_all(conn, now_ns=who.ctx.ledger.clock.now_ns()))


@router.get("/admin/credit/monitor", response_model=list[DriftOut])
def monitor(who: RiskReader) -> list[DriftOut]:
    """PSI of the score and of each feature, latest scores against the training distribution."""
    with who.ctx.db.uow(write=False) as conn:
        return [DriftOut(name=d.name, psi=d.psi, alert=d.alert) for d in credit.monitor(conn)]
