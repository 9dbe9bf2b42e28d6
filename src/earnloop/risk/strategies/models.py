"""The tables of stored strategies (ADR 0025): every version of a named strategy with its rules, its
test pack and who published and approved it; one pointer row per strategy (the live and shadow
versions, and a generation every process polls to hot-deploy); and the append-only audit log."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from earnloop.db.metadata import metadata
from earnloop.db.types import SERIAL_ID

NAME_LEN = 32
STATUSES = ("draft", "live", "retired")

# One row per published version. Rules, thresholds and the backtest summary are JSON text; a version's
# content never changes after publish, only its status and approval.
risk_strategy_versions = Table(
    "risk_strategy_versions",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("name", String(NAME_LEN), nullable=False),
    Column("version", Integer, nullable=False),
    Column("rules_json", Text, nullable=False),
    Column("thresholds_json", Text, nullable=False),
    Column("changelog", Text, nullable=False),
    Column("author_id", BigInteger, ForeignKey("operators.id"), nullable=False),
    Column("author", String(64), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("approver_id", BigInteger, ForeignKey("operators.id"), nullable=True),
    Column("approver", String(64), nullable=True),
    Column("approved_at_ns", BigInteger, nullable=True),
    Column("self_approved", Boolean, nullable=False, server_default=text("false")),
    Column("backtest_json", Text, nullable=True),  # the backtest's summary, once one has run
    UniqueConstraint("name", "version", name="uq_risk_strategy_versions_name_version"),
    CheckConstraint("status IN ('draft', 'live', 'retired')", name="status_known"),
    CheckConstraint("version >= 1", name="version_positive"),
    CheckConstraint("(approved_at_ns IS NULL) = (approver_id IS NULL)", name="approval_complete"),
    CheckConstraint("status = 'draft' OR approved_at_ns IS NOT NULL", name="live_was_approved"),
    # at most one live version per strategy
    Index(
        "uq_risk_strategy_versions_live",
        "name",
        unique=True,
        sqlite_where=text("status = 'live'"),
        postgresql_where=text("status = 'live'"),
    ),
)

# A version's test pack: example activations with the outcome each must get, in order.
risk_strategy_examples = Table(
    "risk_strategy_examples",
    metadata,
    Column("version_id", BigInteger, ForeignKey("risk_strategy_versions.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("label", String(120), nullable=False),
    Column("activation_json", Text, nullable=False),
    Column("expected", String(16), nullable=False),
    CheckConstraint("expected IN ('allow', 'review', 'block')", name="expected_known"),
)

# One row per strategy name: the live and shadow versions and a generation bumped by every change of
# either, which every process reads (one primary-key row) to know when to reload; ``latest_version``
# allocates version numbers atomically.
risk_strategy_pointers = Table(
    "risk_strategy_pointers",
    metadata,
    Column("name", String(NAME_LEN), primary_key=True),
    Column("live_version", Integer, nullable=True),
    Column("shadow_version", Integer, nullable=True),
    Column("generation", BigInteger, nullable=False),
    Column("latest_version", Integer, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
)

# Every change to a strategy (publish, approve, rollback, shadow), by whom; rows are only inserted.
risk_strategy_audit = Table(
    "risk_strategy_audit",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("name", String(NAME_LEN), nullable=False),
    Column("version", Integer, nullable=True),
    Column("action", String(32), nullable=False),
    Column("operator_id", BigInteger, ForeignKey("operators.id"), nullable=False),
    Column("operator", String(64), nullable=False),
    Column("detail_json", Text, nullable=False),
    Column("at_ns", BigInteger, nullable=False),
    Index("ix_risk_strategy_audit_name", "name", "id"),
)
