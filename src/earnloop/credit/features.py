"""The credit features: each with its dimension, the direction in which it is favourable (the
challenger's monotone constraint and the reasons' wording both use it) and the sentence a user reads
when it is a top reason. The simulated population (``population.py``) and the features computed from the
database (``features_db.py``) produce exactly these columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from earnloop.credit.types import Dimension

Direction = Literal[1, -1]  # 1: more is better for the score; -1: less is better


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    dimension: Dimension
    favourable: Direction
    good: str  # the reason when it raised the score
    bad: str  # the reason when it lowered the score
    description: str


FEATURES: tuple[Feature, ...] = (
    Feature(
        "account_age_days",
        "identity",
        1,
        "your account has a long history",
        "your account is new",
        "days since the account was opened",
    ),
    Feature(
        "profile_completeness",
        "identity",
        1,
        "your profile is complete",
        "your profile is incomplete",
        "share of profile items given (0..1): phone, carrier, payout account, passkey",
    ),
    Feature(
        "has_passkey",
        "identity",
        1,
        "you protect payments with a passkey",
        "you have not added a passkey",
        "1 when the user has a passkey",
    ),
    Feature(
        "active_days_90d",
        "behaviour",
        1,
        "you use the app regularly",
        "you rarely use the app",
        "days with any activity in the last 90 days",
    ),
    Feature(
        "activity_regularity",
        "behaviour",
        1,
        "your activity is steady",
        "your activity comes in bursts",
        "1 − coefficient of variation of weekly activity counts (0..1)",
    ),
    Feature(
        "categories_used",
        "behaviour",
        1,
        "you earn in several ways",
        "you earn in only one way",
        "distinct earn categories used (games, shopping, e-invoice)",
    ),
    Feature(
        "reversed_share",
        "payment_history",
        -1,
        "your cashback is rarely reversed",
        "much of your cashback was reversed",
        "share of cashback amount reversed or clawed back (0..1)",
    ),
    Feature(
        "debts_repaid_on_time",
        "payment_history",
        1,
        "you repaid all cashback reversals on time",
        "you were late repaying what you owed",
        "share of debts repaid within 30 days (1 when none)",
    ),
    Feature(
        "open_debt",
        "payment_history",
        -1,
        "you owe nothing",
        "you have an unpaid balance",
        "minor units owed to the platform now (negative balance, overdue credit)",
    ),
    Feature(
        "days_past_due",
        "payment_history",
        -1,
        "you have no overdue payment",
        "a payment is overdue",
        "days the oldest unpaid amount is overdue",
    ),
    Feature(
        "escrow_confirmed_on_time",
        "payment_history",
        1,
        "you confirm deliveries on time",
        "you confirm deliveries late",
        "share of escrows the user confirmed before the timeout (1 when none)",
    ),
    Feature(
        "shared_devices_flagged",
        "connections",
        -1,
        "your devices are not shared with flagged accounts",
        "a device you use is shared with flagged accounts",
        "flagged accounts sharing a device or IP with the user",
    ),
    Feature(
        "risk_denials_90d",
        "connections",
        -1,
        "no payment of yours was refused for safety",
        "some of your actions were refused for safety",
        "risk denials and rejected reviews in 90 days",
    ),
    Feature(
        "referral_quality",
        "connections",
        1,
        "people you invited are in good standing",
        "people you invited were flagged",
        "share of referred users in good standing (1 when none)",
    ),
    Feature(
        "balance_avg_90d",
        "capacity",
        1,
        "you keep a healthy balance",
        "your balance is usually low",
        "average available balance over 90 days, minor units",
    ),
    Feature(
        "earned_90d",
        "capacity",
        1,
        "you earn steadily",
        "you have earned little recently",
        "cashback confirmed in 90 days, minor units",
    ),
    Feature(
        "spent_90d",
        "capacity",
        1,
        "you pay at partner stores",
        "you rarely pay with your wallet",
        "paid at partner stores in 90 days, minor units",
    ),
)
BY_NAME: dict[str, Feature] = {feature.name: feature for feature in FEATURES}
FEATURE_NAMES: tuple[str, ...] = tuple(BY_NAME)
