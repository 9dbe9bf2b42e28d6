"""Credit's public API for the faces (API, app, CLI): a user's credit view (current score, reasons,
privileges), the registry's list and approval, re-scoring everyone, the PSI report, and the deposit
waiver the hold requests pass to the wallet."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection

from earnloop.credit.monitor import Drift, psi_report
from earnloop.credit.privileges import Privilege, current_score, privilege_for
from earnloop.credit.privileges import bands as bands
from earnloop.credit.privileges import deposit_waiver as deposit_waiver
from earnloop.credit.registry import ModelInfo as ModelInfo
from earnloop.credit.registry import Window as Window
from earnloop.credit.registry import approve as approve
from earnloop.credit.registry import approved_version, training_bins
from earnloop.credit.registry import list_models as list_models
from earnloop.credit.registry import register as register
from earnloop.credit.scoring import StoredScore as StoredScore
from earnloop.credit.scoring import latest_score as latest_score
from earnloop.credit.scoring import latest_scores
from earnloop.credit.scoring import rescore_all as rescore_all
from earnloop.credit.scoring import score_user as score_user
from earnloop.credit.types import Reason as Reason


@dataclass(frozen=True, slots=True)
class CreditView:
    """What a user sees: the current score (``None`` until a model is approved) and its band."""

    score: StoredScore | None
    privilege: Privilege | None


def credit_view(conn: Connection, user_id: int, *, now_ns: int) -> CreditView:
    scored = current_score(conn, user_id, now_ns)
    return CreditView(scored, None if scored is None else privilege_for(conn, scored.score))


def monitor(conn: Connection) -> list[Drift]:
    """PSI of the score and each feature: every user's latest score by the approved champion against
    that model's training distribution (empty without an approved model or scores)."""
    version = approved_version(conn)
    if version is None:
        return []
    current = [s for s in latest_scores(conn) if s.model_version == version]
    if not current:
        return []
    rows = pd.DataFrame([s.features for s in current]).astype(float)
    return psi_report(training_bins(conn, version), rows, [s.score for s in current])
