"""The default strategy against the signals of docs/risk-attacks.md: each attack's events are held or
refused, and honest events in the ranges honest users produce are allowed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnloop.risk.engine import memory_engine
from earnloop.risk.rules import evaluate

ENGINE = memory_engine()
LIVE = ENGINE.strategies.live()


def activation(**values: Any) -> dict[str, Any]:
    base = ENGINE.builder.template.copy()
    base.update(key_user="7", key_device="d1", key_ip24="203.0.113.0/24", account_age_s=90 * 86_400)
    base.update(device_seen_user_30d=5, ip24_seen_user_30d=5, users_device_24h=1, users_device_30d=1)
    base.update(users_ip24_24h=1, devices_user_30d=1, ip24s_user_30d=1)
    base.update(values)
    return base


# an honest withdrawal: to a destination added 90 days ago, the first one the user added
WITHDRAWAL = {
    "kind": "withdrawal",
    "amount": 5_000,
    "destination_age_s": 90 * 86_400,
    "other_destinations": 0,
}
MILESTONE = {"kind": "milestone", "has_click_time": True, "click_to_event_s": 3_600, "amount": 100}
ATTACKS: dict[str, dict[str, Any]] = {
    "click_injection": {**MILESTONE, "click_to_event_s": 8},
    "click_flooding_device": {**MILESTONE, "clicks_device_1h": 400},
    "click_flooding_ip24": {**MILESTONE, "clicks_ip24_24h": 5_000},
    "sdk_spoofing": {**MILESTONE, "milestones_user_1m": 2},
    "device_farm": {**MILESTONE, "users_device_24h": 12},
    "emulator": {**MILESTONE, "emulator": True},
    "callback_replay_new_ids": {**MILESTONE, "milestones_user_1h": 9},
    "multi_accounting": {
        **MILESTONE,
        "account_age_s": 3_600,
        "users_device_30d": 4,
        "device_seen_user_30d": 0,
    },
    "refund_after_cashback": {"kind": "conversion", "amount": 50_000, "refunds_user_30d": 3},
    "stolen_account_withdrawal": {
        "kind": "withdrawal",
        "amount": 90_000,
        "changes_user_24h": 1,
        "device_seen_user_30d": 0,
        "share_of_balance_bps": 9_500,
    },
    # the destination added an hour ago in another process (velocity has not seen it), new phone
    "stolen_account_withdrawal_seen_by_the_database": {
        **WITHDRAWAL,
        "destination_age_s": 3_600,
        "other_destinations": 1,
        "device_seen_user_30d": 0,
        "share_of_balance_bps": 10_000,
    },
    # from the web (no device id): a network new to the user
    "stolen_account_withdrawal_from_the_web": {
        **WITHDRAWAL,
        "key_device": "",
        "changes_user_24h": 2,
        "destination_age_s": 600,
        "ip24_seen_user_30d": 0,
    },
    # on the user's own phone (the attacker has it): the destination replaced, most of the balance
    "stolen_account_withdrawal_replaced_destination": {
        **WITHDRAWAL,
        "changes_user_24h": 1,
        "destination_age_s": 900,
        "other_destinations": 1,
        "share_of_balance_bps": 8_000,
    },
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_every_attack_is_held_or_refused(attack: str) -> None:
    decision = evaluate(LIVE, activation(**ATTACKS[attack]))
    assert decision.outcome in ("review", "block"), (attack, decision)
    assert decision.reasons


HONEST = {
    "a milestone an hour after the click": MILESTONE,
    "a young account's first milestone on its own device": {
        **MILESTONE,
        "account_age_s": 600,
        "device_seen_user_30d": 0,
        "users_device_30d": 0,
    },
    "a family tablet": {**MILESTONE, "users_device_24h": 2, "users_device_30d": 2},
    "one refund in a month": {"kind": "conversion", "amount": 20_000, "refunds_user_30d": 1},
    "a payout destination changed from the usual phone": {"kind": "account_change"},
    "a withdrawal of everything, nothing changed": {**WITHDRAWAL, "share_of_balance_bps": 10_000},
    "a first destination, then everything withdrawn from the usual phone": {
        **WITHDRAWAL,
        "changes_user_24h": 1,
        "destination_age_s": 300,
        "share_of_balance_bps": 10_000,
    },
    "a new bank account, then a small withdrawal from the usual phone": {
        **WITHDRAWAL,
        "changes_user_24h": 1,
        "destination_age_s": 300,
        "other_destinations": 2,
        "share_of_balance_bps": 2_000,
    },
    "a withdrawal from the usual phone on a new network, the day after adding the bank": {
        **WITHDRAWAL,
        "changes_user_24h": 1,
        "destination_age_s": 20 * 3_600,
        "ip24_seen_user_30d": 0,
        "share_of_balance_bps": 10_000,
    },
    "a withdrawal from a new phone to a destination of last month": {
        **WITHDRAWAL,
        "destination_age_s": 30 * 86_400,
        "device_seen_user_30d": 0,
        "share_of_balance_bps": 10_000,
    },
    "a first withdrawal of a user never seen on a device (e-invoices only), to a new destination": {
        **WITHDRAWAL,
        "changes_user_24h": 1,
        "destination_age_s": 60,
        "device_seen_user_30d": 0,
        "devices_user_30d": 0,
        "share_of_balance_bps": 10_000,
    },
    "a payment at a till": {"kind": "payment", "amount": 12_000, "key_payee": "merchant:3"},
    "an e-invoice receipt": {"kind": "einvoice_receipt", "amount": 300},
}


@pytest.mark.parametrize("case", sorted(HONEST))
def test_honest_events_are_allowed(case: str) -> None:
    decision = evaluate(LIVE, activation(**HONEST[case]))
    assert (decision.outcome, decision.reasons) == ("allow", ())


@given(
    click_to_event_s=st.integers(min_value=120, max_value=30 * 86_400),
    clicks_device_1h=st.integers(min_value=0, max_value=20),
    clicks_ip24_24h=st.integers(min_value=0, max_value=300),
    users_ip24_24h=st.integers(min_value=1, max_value=15),
    milestones_user_1h=st.integers(min_value=0, max_value=3),
    earns_user_24h=st.integers(min_value=0, max_value=20),
    account_age_s=st.integers(min_value=0, max_value=3 * 365 * 86_400),
)
def test_honest_players_in_their_usual_ranges_are_never_flagged(**values: int) -> None:
    decision = evaluate(LIVE, activation(**{**MILESTONE, **values}))
    assert decision.outcome == "allow", decision


@given(
    destination_age_s=st.integers(min_value=0, max_value=365 * 86_400),
    other_destinations=st.integers(min_value=0, max_value=5),
    share_of_balance_bps=st.integers(min_value=0, max_value=10_000),
    changes_user_24h=st.integers(min_value=0, max_value=3),
    ip24_seen_user_30d=st.integers(min_value=0, max_value=50),
)
def test_withdrawals_from_the_users_own_phone_are_never_blocked(**values: int) -> None:
    """On a device the user has used before, a withdrawal is at most held (never refused), and only
    when it takes most of the balance to a destination that replaced another within the day."""
    decision = evaluate(LIVE, activation(**{**WITHDRAWAL, **values}))
    recent = values["changes_user_24h"] >= 1 or values["destination_age_s"] < 86_400
    replaced_most = values["other_destinations"] >= 1 and values["share_of_balance_bps"] >= 8_000
    assert decision.outcome == ("review" if recent and replaced_most else "allow"), decision
