"""Catalog tables: merchants (catalog fields of a ``merchant`` partner), games with milestones,
campaigns with their targets, and per-user usage counters (campaign caps, milestone limits).

Lists (platforms, tags) are stored as comma-separated text so both databases treat them alike.
Money is BIGINT minor units with the row's currency; rates and multipliers are basis points.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from earnloop.db.metadata import metadata
from earnloop.db.types import SERIAL_ID

catalog_merchants = Table(
    "catalog_merchants",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("partner_id", BigInteger, ForeignKey("partners.id"), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("category", String(32), nullable=False),
    Column("logo_url", String(500), nullable=False),
    Column("tracking_template", String(1000), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("lock_period_days", Integer, nullable=False),
    Column("payout_terms", String(200), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    CheckConstraint("lock_period_days >= 0 AND lock_period_days <= 365", name="lock_period_range"),
)

catalog_merchant_tax_ids = Table(
    "catalog_merchant_tax_ids",
    metadata,
    Column("tax_id", String(8), primary_key=True),
    Column("merchant_id", BigInteger, ForeignKey("catalog_merchants.id"), nullable=False),
    Index("ix_catalog_merchant_tax_ids_merchant", "merchant_id"),
)

catalog_merchant_rates = Table(
    "catalog_merchant_rates",
    metadata,
    Column("merchant_id", BigInteger, ForeignKey("catalog_merchants.id"), primary_key=True),
    Column("category", String(32), primary_key=True),
    Column("rate_bps", Integer, nullable=False),
    CheckConstraint("rate_bps >= 0 AND rate_bps <= 10000", name="rate_range"),
)

catalog_games = Table(
    "catalog_games",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("platforms", String(100), nullable=False),
    Column("app_store_id", String(20), nullable=True),
    Column("play_package", String(150), nullable=True),
    Column("tracking_provider", String(40), nullable=False),
    Column("tags", String(500), nullable=False),
    Column("status", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("publisher_id", BigInteger, ForeignKey("partners.id"), nullable=True),
    # Days a game reward stays pending before the worker confirms it (0 = the next sweep).
    Column("lock_period_days", Integer, nullable=False, server_default="0"),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    Index("ix_catalog_games_status", "status"),
    CheckConstraint("lock_period_days >= 0 AND lock_period_days <= 365", name="lock_period_range"),
)

catalog_milestones = Table(
    "catalog_milestones",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("game_id", BigInteger, ForeignKey("catalog_games.id"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("goal", String(200), nullable=False),
    Column("within_days", Integer, nullable=True),
    Column("reward_amount", BigInteger, nullable=False),
    Column("per_user_limit", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    UniqueConstraint("game_id", "key", name="uq_catalog_milestones_game_key"),
    CheckConstraint("reward_amount > 0", name="reward_positive"),
    CheckConstraint("per_user_limit >= 1", name="limit_positive"),
    CheckConstraint("within_days IS NULL OR within_days >= 1", name="within_days_positive"),
)

catalog_campaigns = Table(
    "catalog_campaigns",
    metadata,
    Column("id", SERIAL_ID, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("multiplier_bps", Integer, nullable=False),
    Column("fixed_bonus", BigInteger, nullable=False),
    Column("starts_at_ns", BigInteger, nullable=False),
    Column("ends_at_ns", BigInteger, nullable=False),
    Column("per_user_cap", Integer, nullable=True),
    Column("budget_total", BigInteger, nullable=False),
    Column("funded", BigInteger, nullable=False),
    Column("budget_mode", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    CheckConstraint("multiplier_bps >= 10000 AND multiplier_bps <= 100000", name="multiplier_range"),
    CheckConstraint("fixed_bonus >= 0", name="bonus_nonnegative"),
    CheckConstraint("ends_at_ns > starts_at_ns", name="schedule_order"),
    CheckConstraint("per_user_cap IS NULL OR per_user_cap >= 1", name="cap_positive"),
    CheckConstraint("budget_total > 0", name="budget_positive"),
    CheckConstraint("funded >= 0 AND funded <= budget_total", name="funded_range"),
)

catalog_campaign_targets = Table(
    "catalog_campaign_targets",
    metadata,
    Column("campaign_id", BigInteger, ForeignKey("catalog_campaigns.id"), primary_key=True),
    Column("target_kind", String(8), primary_key=True),  # "game" | "merchant"
    Column("target_id", BigInteger, primary_key=True),
    Index("ix_catalog_campaign_targets_target", "target_kind", "target_id"),
)

# How many times a user used a campaign bonus / earned a milestone; guarded by the cap.
catalog_usage = Table(
    "catalog_usage",
    metadata,
    Column("subject", String(16), primary_key=True),  # "campaign" | "milestone"
    Column("subject_id", BigInteger, primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), primary_key=True),
    Column("used", Integer, nullable=False),
    CheckConstraint("used >= 0", name="used_nonnegative"),
)

# One row per recorded use (idempotency on the earn engine's reference).
catalog_usage_refs = Table(
    "catalog_usage_refs",
    metadata,
    Column("subject", String(16), primary_key=True),
    Column("subject_id", BigInteger, primary_key=True),
    Column("ref", String(200), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
)
