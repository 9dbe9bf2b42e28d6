"""Tables of deposit holds: policies and per-user overrides, users' mandates, and the holds. The money
itself is a pending ledger transfer; these rows say what it is for and which state its hold is in."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from earnloop.db.metadata import metadata

HOLD_STATES = ("requested", "held", "captured", "released", "expired", "declined", "waived")
HOLD_APPROVALS = ("user", "mandate", "operator")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# Deposit amount per merchant product and currency (admin-managed). ``min_credit_score``: a user whose
# current credit score is at least this needs no deposit (the hold is ``waived``; ``holds/waivers.py``).
deposit_policies = Table(
    "deposit_policies",
    metadata,
    Column("product", String(64), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("partner_id", BigInteger, ForeignKey("partners.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("min_credit_score", BigInteger, nullable=True),
    Column("updated_at_ns", BigInteger, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
)

# A per-user deposit amount that replaces the policy's for that product and currency.
deposit_policy_overrides = Table(
    "deposit_policy_overrides",
    metadata,
    Column("product", String(64), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), primary_key=True),
    Column("amount", BigInteger, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
)

# A user's standing permission for one merchant to place deposit holds at once (no per-hold approval):
# up to ``max_per_hold`` each and ``total_limit`` in all (``used`` counts every hold placed under it,
# raised by one guarded UPDATE), until it expires or the user revokes it.
deposit_mandates = Table(
    "deposit_mandates",
    metadata,
    Column("mandate_id", String(40), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("partner_id", BigInteger, ForeignKey("partners.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total_limit", BigInteger, nullable=False),
    Column("max_per_hold", BigInteger, nullable=True),
    Column("used", BigInteger, nullable=False),
    Column("expires_at_ns", BigInteger, nullable=False),
    Column("revoked_at_ns", BigInteger, nullable=True),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    CheckConstraint("total_limit > 0", name="total_limit_positive"),
    CheckConstraint("max_per_hold IS NULL OR max_per_hold > 0", name="max_per_hold_positive"),
    CheckConstraint("used >= 0 AND used <= total_limit", name="used_within_limit"),
    Index("ix_deposit_mandates_grant", "user_id", "partner_id", "currency"),
)

# One row per deposit hold: requested → waived (the user's credit score made a deposit unnecessary:
# nothing is ever held) | held (approved by the user, through a mandate, or placed by an
# operator) → captured (part or all) | released | expired; requested → declined | released (withdrawn) |
# expired (not approved in time). ``pending_transfer_id`` and ``expires_at_ns`` are set once money is held.
deposit_holds = Table(
    "deposit_holds",
    metadata,
    Column("hold_id", String(40), primary_key=True),
    Column("partner_id", BigInteger, ForeignKey("partners.id"), nullable=False),
    Column("ref", String(200), nullable=False),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("product", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("amount_basis", String(16), nullable=False),
    Column("captured", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("pending_transfer_id", LargeBinary(16), nullable=True, unique=True),
    Column("expires_in_s", BigInteger, nullable=False),
    Column("expires_at_ns", BigInteger, nullable=True),
    Column("approve_by_ns", BigInteger, nullable=True),
    Column("approved_via", String(16), nullable=True),
    Column("mandate_id", String(40), ForeignKey("deposit_mandates.mandate_id"), nullable=True),
    Column("reason", String(500), nullable=True),
    # the credit decision taken on the request (JSON: waived, score, reasons …); null when none was asked
    Column("credit_decision", Text, nullable=True),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    UniqueConstraint("partner_id", "ref", name="uq_deposit_holds_partner_ref"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("captured >= 0 AND captured <= amount", name="captured_within_amount"),
    CheckConstraint(_in("state", HOLD_STATES), name="state_known"),
    CheckConstraint("amount_basis IN ('policy', 'override')", name="amount_basis_known"),
    CheckConstraint(_in("approved_via", HOLD_APPROVALS), name="approved_via_known"),
    Index("ix_deposit_holds_state_expiry", "state", "expires_at_ns"),
    Index("ix_deposit_holds_state_approve_by", "state", "approve_by_ns"),
    Index("ix_deposit_holds_user", "user_id", "created_at_ns"),
)
