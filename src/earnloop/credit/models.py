"""Tables of credit: the model registry (``credit_models``: versioned, approved by a second person),
every score computed (``credit_scores``: append-only, with the features and reasons it was computed
from) and the privilege policy (``credit_privileges``: what each score band unlocks)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from earnloop.db.metadata import metadata
from earnloop.db.types import SERIAL_ID

MODEL_KINDS = ("champion", "challenger")
MODEL_STATES = ("draft", "approved", "retired")

# One row per registered model: its training window, metrics, the training distribution's bins (for
# PSI) and the joblib artifact. draft → approved (by someone else than its author) → retired (when
# another version of the same kind is approved). Scoring uses the approved champion.
credit_models = Table(
    "credit_models",
    metadata,
    Column("version", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("window_start_ns", BigInteger, nullable=False),
    Column("window_end_ns", BigInteger, nullable=False),
    Column("metrics_json", Text, nullable=False),
    Column("bins_json", Text, nullable=False),
    Column("artifact", LargeBinary, nullable=False),
    Column("artifact_sha256", String(64), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("approved_by", String(64), nullable=True),
    Column("approved_at_ns", BigInteger, nullable=True),
    Column("state", String(16), nullable=False),
    CheckConstraint("kind IN ('champion', 'challenger')", name="kind_known"),
    CheckConstraint("state IN ('draft', 'approved', 'retired')", name="state_known"),
    CheckConstraint("window_start_ns < window_end_ns", name="window_ordered"),
    CheckConstraint("approved_by IS NULL OR approved_by <> created_by", name="four_eyes"),
)

# Every score ever computed (never updated nor deleted): the latest row per user is the current score.
credit_scores = Table(
    "credit_scores",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("model_version", BigInteger, ForeignKey("credit_models.version"), nullable=False),
    Column("score", Integer, nullable=False),
    Column("subscores_json", Text, nullable=False),
    Column("reasons_json", Text, nullable=False),
    Column("features_json", Text, nullable=False),
    Column("computed_at_ns", BigInteger, nullable=False),
    CheckConstraint("score BETWEEN 350 AND 950", name="score_in_range"),
    Index("ix_credit_scores_user_time", "user_id", "computed_at_ns"),
)

# What a score band unlocks: the band starts at ``band_min`` (inclusive) and runs to the next band.
# Amounts in minor units of ``currency``; NULL limits mean "no privilege" (the platform's defaults).
credit_privileges = Table(
    "credit_privileges",
    metadata,
    Column("band_min", Integer, primary_key=True, autoincrement=False),
    Column("band", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("deposit_free", Boolean, nullable=False),
    Column("deposit_reduced_pct", Integer, nullable=False),
    Column("withdrawal_limit", BigInteger, nullable=True),
    Column("cashback_release_days", Integer, nullable=True),
    Column("credit_line_limit", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    CheckConstraint("band_min BETWEEN 350 AND 950", name="band_min_in_range"),
    CheckConstraint("deposit_reduced_pct BETWEEN 0 AND 100", name="reduced_pct_in_range"),
    CheckConstraint("withdrawal_limit IS NULL OR withdrawal_limit > 0", name="withdrawal_limit_positive"),
    CheckConstraint("cashback_release_days IS NULL OR cashback_release_days >= 0", name="release_days_ok"),
    CheckConstraint("credit_line_limit >= 0", name="credit_line_limit_nonnegative"),
)
