"""The model registry: versioned credit models with their training window, metrics, the training
distribution (for PSI) and the artifact (the model pickled by joblib). A model is registered as a
``draft`` by its author and approved by someone else (four eyes: a named operator, never the author);
approving a version retires the approved one of the same kind. Scoring uses the approved champion
(:func:`approved_champion`). Artifacts are trusted: only operators register them (joblib unpickles).
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import joblib
import pandas as pd
from sqlalchemy import Connection, insert, select, update

from earnloop.credit.errors import (
    CreditError,
    FourEyesError,
    ModelNotFoundError,
    ModelStateError,
    NoApprovedModelError,
)
from earnloop.credit.models import credit_models
from earnloop.credit.monitor import reference_bins
from earnloop.credit.types import CreditModel

Kind = Literal["champion", "challenger"]
NAME_MAX = 64


@dataclass(frozen=True, slots=True)
class Window:
    """The training data window: rows observed from ``start_ns`` (inclusive) to ``end_ns`` (exclusive)."""

    start_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True)
class ModelInfo:
    version: int
    name: str
    kind: str
    window: Window
    metrics: dict[str, float]
    created_by: str
    created_at_ns: int
    approved_by: str | None
    approved_at_ns: int | None
    state: str


def _info(row: Any) -> ModelInfo:
    return ModelInfo(
        version=int(row.version),
        name=row.name,
        kind=row.kind,
        window=Window(int(row.window_start_ns), int(row.window_end_ns)),
        metrics=json.loads(row.metrics_json),
        created_by=row.created_by,
        created_at_ns=int(row.created_at_ns),
        approved_by=row.approved_by,
        approved_at_ns=row.approved_at_ns,
        state=row.state,
    )


def _person(what: str, name: str) -> str:
    if not isinstance(name, str) or not 0 < len(name.strip()) <= NAME_MAX:
        raise CreditError(f"{what} must be 1–{NAME_MAX} characters")
    return name.strip()


def register(
    conn: Connection,
    model: CreditModel,
    window: Window,
    metrics: Mapping[str, float],
    author: str,
    *,
    kind: Kind = "champion",
    training: pd.DataFrame | None = None,
) -> ModelInfo:
    """Store ``model`` as a new draft version. ``training``: its training rows, whose distribution
    (score and features) monitoring compares with later."""
    if kind not in ("champion", "challenger"):
        raise CreditError("kind is champion or challenger")
    if not 0 <= window.start_ns < window.end_ns:
        raise CreditError("the training window must start before it ends")
    bins: dict[str, Any] = {}
    if training is not None and len(training):
        rows = training[list(model.feature_names)]
        bins = reference_bins(rows, [s.score for s in model.score(rows)])
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    artifact = buffer.getvalue()
    version = conn.execute(
        insert(credit_models)
        .values(
            name=_person("name", model.name),
            kind=kind,
            window_start_ns=window.start_ns,
            window_end_ns=window.end_ns,
            metrics_json=json.dumps({k: float(v) for k, v in metrics.items()}, sort_keys=True),
            bins_json=json.dumps(bins),
            artifact=artifact,
            artifact_sha256=hashlib.sha256(artifact).hexdigest(),
            created_by=_person("author", author),
            created_at_ns=time.time_ns(),
            state="draft",
        )
        .returning(credit_models.c.version)
    ).scalar_one()
    return model_info(conn, int(version))


def _row(conn: Connection, version: int) -> Any:
    row = conn.execute(select(credit_models).where(credit_models.c.version == version)).first()
    if row is None:
        raise ModelNotFoundError(f"no credit model version {version}")
    return row


def model_info(conn: Connection, version: int) -> ModelInfo:
    return _info(_row(conn, version))


def list_models(conn: Connection) -> list[ModelInfo]:
    query = select(*[c for c in credit_models.c if c.name != "artifact"]).order_by(credit_models.c.version)
    return [_info(row) for row in conn.execute(query)]


def approve(conn: Connection, version: int, approver: str) -> ModelInfo:
    """A second person approves a draft; the kind's previously approved version is retired."""
    row = _row(conn, version)
    who = _person("approver", approver)
    if who == row.created_by:
        raise FourEyesError(f"{who} registered version {version}: someone else approves it")
    if row.state != "draft":
        raise ModelStateError(f"version {version} is {row.state}, not draft")
    now = time.time_ns()
    m = credit_models.c
    conn.execute(
        update(credit_models).where(m.kind == row.kind, m.state == "approved").values(state="retired")
    )
    changed = conn.execute(
        update(credit_models)
        .where(m.version == version, m.state == "draft")
        .values(state="approved", approved_by=who, approved_at_ns=now)
    ).rowcount
    if changed != 1:
        raise ModelStateError(f"version {version} changed concurrently")
    return model_info(conn, version)


def approved_version(conn: Connection, kind: Kind = "champion") -> int | None:
    m = credit_models.c
    found = conn.execute(select(m.version).where(m.kind == kind, m.state == "approved")).scalar()
    return None if found is None else int(found)


_LOADED: dict[tuple[int, str], CreditModel] = {}  # (version, artifact digest) → the unpickled model
LOADED_MAX = 8


def load_model(conn: Connection, version: int) -> CreditModel:
    """The model of ``version``, unpickled once per process (versions are immutable)."""
    m = credit_models.c
    digest = conn.execute(select(m.artifact_sha256).where(m.version == version)).scalar()
    if digest is None:
        raise ModelNotFoundError(f"no credit model version {version}")
    key = (version, str(digest))
    if key not in _LOADED:
        artifact = conn.execute(select(m.artifact).where(m.version == version)).scalar_one()
        if len(_LOADED) >= LOADED_MAX:
            _LOADED.clear()
        _LOADED[key] = cast(CreditModel, joblib.load(io.BytesIO(bytes(artifact))))
    return _LOADED[key]


def approved_champion(conn: Connection) -> tuple[int, CreditModel]:
    """(version, model) that scores users; 409 when none is approved."""
    version = approved_version(conn)
    if version is None:
        raise NoApprovedModelError("no approved champion: register a model and have it approved")
    return version, load_model(conn, version)


def training_bins(conn: Connection, version: int) -> dict[str, Any]:
    return dict(json.loads(_row(conn, version).bins_json))
