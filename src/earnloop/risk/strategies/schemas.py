"""What a strategy version looks like from outside (HTTP bodies, the CLI's JSON files) and what the
API answers: a submitted version (rules, thresholds, changelog, optional test pack), versions, the
audit log, diffs and dry-run decisions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from earnloop.bounds import INT64_MAX, INT64_MIN, Strict
from earnloop.risk.rules import EXPRESSION_CHARS_MAX, RULES_MAX, SCORE_ABS_MAX

NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
VERSION_MAX = 999_999  # "<name>-<version>" fits the 40 characters a decision records
PACK_MAX = 1_000
ACTIVATION_FIELDS_MAX = 512
CHANGELOG_CHARS_MAX = 4_000
LABEL_CHARS_MAX = 120
Outcome = Literal["allow", "review", "block"]
VALUE_CHARS_MAX = 1_000
# an activation's values are taken as sent: never coerced from one JSON type to another
ActivationValue = (
    Annotated[bool, Field(strict=True)]
    | Annotated[int, Field(strict=True, ge=INT64_MIN, le=INT64_MAX)]
    | Annotated[float, Field(strict=True, allow_inf_nan=False)]
    | Annotated[str, Field(strict=True, max_length=VALUE_CHARS_MAX)]
)
Activation = dict[str, ActivationValue]


class RuleIn(Strict):
    code: str = Field(min_length=1, max_length=64, description="The reason code the rule leaves when fired.")
    expression: str = Field(min_length=1, max_length=EXPRESSION_CHARS_MAX, description="A CEL expression.")
    outcome: Outcome
    score: int = Field(default=0, ge=-SCORE_ABS_MAX, le=SCORE_ABS_MAX)


class ThresholdsIn(Strict):
    review_score: int | None = Field(
        default=None, ge=-SCORE_ABS_MAX * RULES_MAX, le=SCORE_ABS_MAX * RULES_MAX
    )
    block_score: int | None = Field(default=None, ge=-SCORE_ABS_MAX * RULES_MAX, le=SCORE_ABS_MAX * RULES_MAX)


class ExampleIn(Strict):
    """One example of a test pack: the fields it sets (the others are zero values) and the outcome the
    strategy must give it."""

    label: str = Field(min_length=1, max_length=LABEL_CHARS_MAX)
    activation: Activation = Field(max_length=ACTIVATION_FIELDS_MAX)
    expected: Outcome


class VersionIn(Strict):
    """A new version. ``test_pack`` omitted: the previous version's pack is carried over and must still
    pass; given (even empty): it replaces the pack, and it is what must pass."""

    changelog: str = Field(min_length=1, max_length=CHANGELOG_CHARS_MAX)
    rules: list[RuleIn] = Field(min_length=1, max_length=RULES_MAX)
    thresholds: ThresholdsIn = ThresholdsIn()
    test_pack: list[ExampleIn] | None = Field(default=None, max_length=PACK_MAX)


class ShadowIn(Strict):
    version: int | None = Field(
        ge=1, le=VERSION_MAX, description="The shadow candidate; null stops shadowing."
    )


class EvaluateIn(Strict):
    strategy: str = Field(default="default", pattern=NAME_PATTERN)
    version: int | None = Field(
        default=None, ge=1, le=VERSION_MAX, description="A stored version; omitted: the live one."
    )
    activation: Activation = Field(max_length=ACTIVATION_FIELDS_MAX)


def at(ns: int) -> datetime:
    """A nanosecond timestamp as an RFC 3339 UTC time."""
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1_000
    )


class VersionOut(BaseModel):
    name: str
    version: int
    label: str = Field(description="`<name>-<version>`: what decisions record as their strategy version.")
    status: Literal["draft", "live", "retired"]
    changelog: str
    author: str
    created_at: datetime
    approver: str | None
    approved_at: datetime | None
    self_approved: bool
    backtest: dict[str, Any] | None
    examples: int


class VersionDetail(VersionOut):
    rules: list[RuleIn]
    thresholds: ThresholdsIn
    test_pack: list[ExampleIn]


class StrategyOut(BaseModel):
    name: str
    live_version: int | None
    shadow_version: int | None
    generation: int
    latest_version: int


class AuditOut(BaseModel):
    id: int
    name: str
    version: int | None
    action: str
    operator: str
    detail: dict[str, Any]
    at: datetime


class RuleChange(BaseModel):
    code: str
    before: RuleIn
    after: RuleIn


class DiffOut(BaseModel):
    name: str
    from_version: int
    to_version: int
    added: list[RuleIn]
    removed: list[RuleIn]
    changed: list[RuleChange]
    order_changed: bool
    thresholds_before: ThresholdsIn
    thresholds_after: ThresholdsIn


class DecisionOut(BaseModel):
    outcome: Outcome
    score: int
    reasons: list[str]
    version: str
    latency_us: int


class EvaluateOut(BaseModel):
    decision: DecisionOut
    shadow: DecisionOut | None = Field(description="The shadow candidate's decision (live evaluations).")
