"""The default strategy shipped with the product: CEL rules over the catalogue (``fields.py``) that catch
every attack of docs/risk-attacks.md without flagging honest behaviour, and the velocity features they
read (issue 15, ADR 0024).

Owns :data:`DEFAULT_VELOCITY` and :func:`default_strategy`. Each rule names its attack in its reason
code's comment; ``block`` is for signals no honest user leaves (seconds from click to milestone, an
emulator, a device shared by many accounts), ``review`` for those an honest user rarely leaves (the
money is held until a person looks).
"""

from __future__ import annotations

from earnloop.risk.events import EventKind
from earnloop.risk.rules import Rule, Strategy, Thresholds
from earnloop.risk.velocity import VelocitySpec

# a "." never appears in a stored version's label, "<name>-<n>"; 3: withdrawals read destination_age_s,
# other_destinations, and "seen" counts only the SEEN kinds (ADR 0028)
VERSION = "builtin.default-4"
MINUTE_S, HOUR_S, DAY_S = 60, 3_600, 86_400
CLICK: frozenset[EventKind] = frozenset({"click"})
EARNS: frozenset[EventKind] = frozenset({"milestone", "conversion", "einvoice_receipt"})
PRESENCE: frozenset[EventKind] = frozenset(
    {"click", "install", "milestone", "conversion", "login", "payment", "withdrawal", "account_change"}
)
# Where the user has been *seen*: the events that show a person using the account. Not a payout
# destination change nor a withdrawal, the very events a thief sends first from a new device.
SEEN: frozenset[EventKind] = PRESENCE - {"account_change", "withdrawal"}

DEFAULT_VELOCITY: tuple[VelocitySpec, ...] = (
    VelocitySpec("clicks_device_1h", "count", "device", HOUR_S, CLICK),
    VelocitySpec("clicks_device_24h", "count", "device", DAY_S, CLICK),
    VelocitySpec("clicks_ip24_1h", "count", "ip24", HOUR_S, CLICK),
    VelocitySpec("clicks_ip24_24h", "count", "ip24", DAY_S, CLICK),
    VelocitySpec("users_device_24h", "distinct", "device", DAY_S, PRESENCE, of="user"),
    VelocitySpec("users_ip24_24h", "distinct", "ip24", DAY_S, PRESENCE, of="user"),
    VelocitySpec("users_device_30d", "distinct", "device", 30 * DAY_S, PRESENCE, of="user"),
    VelocitySpec("milestones_user_1m", "count", "user", MINUTE_S, frozenset({"milestone"})),
    VelocitySpec("milestones_user_1h", "count", "user", HOUR_S, frozenset({"milestone"})),
    VelocitySpec("earns_user_24h", "count", "user", DAY_S, EARNS),
    VelocitySpec("refunds_user_30d", "count", "user", 30 * DAY_S, frozenset({"refund"})),
    VelocitySpec("changes_user_24h", "count", "user", DAY_S, frozenset({"account_change"})),
    VelocitySpec("device_seen_user_30d", "match", "user", 30 * DAY_S, SEEN, of="device"),
    VelocitySpec("ip24_seen_user_30d", "match", "user", 30 * DAY_S, SEEN, of="ip24"),
    VelocitySpec("devices_user_30d", "distinct", "user", 30 * DAY_S, SEEN, of="device"),
    VelocitySpec("ip24s_user_30d", "distinct", "user", 30 * DAY_S, SEEN, of="ip24"),
    VelocitySpec("users_payee_30d", "distinct", "payee", 30 * DAY_S, PRESENCE, of="user"),
    VelocitySpec("users_phone_30d", "distinct", "phone", 30 * DAY_S, PRESENCE, of="user"),
)

_EARN = 'kind in ["milestone", "conversion", "einvoice_receipt"]'
_NEW_PRESENCE = (
    '((key_device != "" && device_seen_user_30d == 0) || (key_ip24 != "" && ip24_seen_user_30d == 0))'
)
# A device new to a user seen on other devices; by its network only when the request named no device
# (people move between networks every day, a new phone is rarer): what a withdrawal is blocked on. A
# user never seen on any device (earning by e-invoices only, say) is not "on a new device".
_NEW_DEVICE = (
    '(key_device != "" ? (device_seen_user_30d == 0 && devices_user_30d >= 1)'
    ' : (key_ip24 != "" && ip24_seen_user_30d == 0 && ip24s_user_30d >= 1))'
)
# The payout destinations changed in the last day: counted by velocity (this process, or Redis) and,
# for the withdrawal's own destination, from the database (any process, any restart).
_RECENT_CHANGE = "(changes_user_24h >= 1 || destination_age_s < 86400)"

_BLOCKLISTED = " || ".join(
    f"blocklisted_{key}" for key in ("user", "device", "ip", "ip24", "card", "carrier", "payee", "phone")
)

RULES: tuple[Rule, ...] = (
    # an entity on our blocklist or a partner's feed (lists.py); a phone number people report as a scam
    Rule("blocklisted_entity", _BLOCKLISTED, "block", 100),
    Rule("reported_phone", "phone_flagged", "review", 50),
    # click_injection: the milestone follows its click by seconds (honest players need minutes)
    Rule(
        "click_to_milestone_too_fast",
        'kind == "milestone" && has_click_time && click_to_event_s < 60',
        "block",
        100,
    ),
    # sdk_spoofing: several milestones for one user within a minute (or an hour: replays with new ids)
    Rule("milestone_burst_1m", 'kind == "milestone" && milestones_user_1m >= 1', "block", 100),
    Rule("milestone_burst_1h", 'kind == "milestone" && milestones_user_1h >= 4', "review", 50),
    # click_flooding: the click's device or /24 clicked far more than a person does
    Rule(
        "device_click_flood", f"{_EARN} && (clicks_device_1h > 30 || clicks_device_24h > 100)", "block", 100
    ),
    Rule("ip24_click_flood", f"{_EARN} && (clicks_ip24_1h > 150 || clicks_ip24_24h > 600)", "review", 50),
    # device_farm: one device (or /24) for many accounts; emulators
    Rule("emulator", "emulator", "block", 100),
    Rule("device_many_users", f"{_EARN} && users_device_24h >= 3", "block", 100),
    Rule("ip24_many_users", f"{_EARN} && users_ip24_24h >= 20", "review", 50),
    # multi_accounting: a young account sharing a device, payee or phone with other accounts
    Rule(
        "young_account_shares_identity",
        f"{_EARN} && account_age_s < 86400"
        " && ((device_seen_user_30d > 0 ? users_device_30d - 1 : users_device_30d) >= 1"
        " || users_payee_30d >= 2 || users_phone_30d >= 2)",
        "review",
        50,
    ),
    # refund_after_cashback: a user who keeps refunding what earned cashback
    Rule("refunds_after_cashback", 'kind == "conversion" && refunds_user_30d >= 2', "review", 50),
    # ... or who buys again within a day of a refund (an honest refund is rarely followed by a quick rebuy)
    Rule(
        "rebuy_after_refund",
        'kind == "conversion" && refunds_user_30d >= 1 && earns_user_24h >= 1',
        "review",
        50,
    ),
    # stolen_account_withdrawal: payout destination changed, then a withdrawal from a new device / network
    Rule(
        "withdrawal_after_change_new_device",
        f'kind == "withdrawal" && {_RECENT_CHANGE} && {_NEW_DEVICE}',
        "block",
        100,
    ),
    # ... or again after a refusal (the refused attempt's own device counts as seen by then)
    Rule(
        "withdrawal_after_change_and_refusal",
        f'kind == "withdrawal" && {_RECENT_CHANGE} && prior_denies_30d >= 1',
        "block",
        100,
    ),
    # ... or of most of the balance to a destination that replaced another (a first destination and a
    # first withdrawal of everything is what honest users do)
    Rule(
        "withdrawal_after_change_most_balance",
        f'kind == "withdrawal" && {_RECENT_CHANGE} && other_destinations >= 1'
        " && share_of_balance_bps >= 8000",
        "review",
        50,
    ),
    Rule("change_from_new_device", f'kind == "account_change" && {_NEW_PRESENCE}', "review", 30),
    # a user whose money was held or refused recently earns under review
    Rule("prior_denies", f"{_EARN} && prior_denies_30d >= 2", "review", 30),
)


def default_strategy() -> Strategy:
    """The strategy every process decides by when no other is published."""
    return Strategy(VERSION, RULES, Thresholds(review_score=100, block_score=250))
