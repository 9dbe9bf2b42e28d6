"""Entity values normalise to one spelling (so a list entry, a feed entry and an event's key match),
phone numbers to E.164 in the configured region, and reporter weights stay within their bounds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnloop.risk import phones
from earnloop.risk.list_errors import RiskInputError
from earnloop.risk.normalise import normalise, to_e164


@pytest.mark.parametrize(
    ("key", "raw", "stored"),
    [
        ("phone", "0912-345-678", "+886912345678"),
        ("phone", "+886 912 345 678", "+886912345678"),
        ("ip", " 2001:DB8::0001 ", "2001:db8::1"),
        ("ip24", "203.0.113.77", "203.0.113.0/24"),
        ("ip24", "203.0.113.0/24", "203.0.113.0/24"),
        ("device", " GAID-ABC ", "gaid-abc"),
        ("carrier", "/abc+123", "/ABC+123"),
        ("user", "0042", "42"),
    ],
)
def test_values_normalise_to_one_spelling(key: str, raw: str, stored: str) -> None:
    assert normalise(key, raw) == stored


def test_a_number_without_a_country_code_is_read_in_the_given_region() -> None:
    assert to_e164("(202) 555-0143", "US") == "+12025550143"
    with pytest.raises(RiskInputError, match="not a valid number"):
        to_e164("(202) 555-0143", "TW")


@pytest.mark.parametrize(
    ("key", "raw"),
    [("ip24", "203.0.113.0/25"), ("ip24", "2001:db8::1"), ("partner", "-1"), ("user", "1" * 30), ("x", "y")],
)
def test_values_that_do_not_normalise_are_refused(key: str, raw: str) -> None:
    with pytest.raises(RiskInputError):
        normalise(key, raw)


@given(st.text(max_size=60))
def test_any_text_either_normalises_idempotently_or_is_refused(raw: str) -> None:
    for key in ("phone", "ip", "ip24", "device", "carrier", "user"):
        try:
            stored = normalise(key, raw)
        except RiskInputError:
            continue
        assert normalise(key, stored) == stored


@given(
    age_s=st.integers(0, 10 * 365 * 86_400),
    reports=st.integers(1, 10_000),
    share=st.floats(0, 1),
)
def test_a_user_never_weighs_more_than_a_partner_nor_less_than_nothing(
    age_s: int, reports: int, share: float
) -> None:
    corroborated = int(reports * share)
    weight = phones.reporter_weight("user", account_age_s=age_s, reports=reports, corroborated=corroborated)
    assert 0 <= weight <= phones.USER_WEIGHT_MAX < phones.PARTNER_WEIGHT
    assert phones.USER_WEIGHT_MAX < phones.FLAG_SCORE  # one user alone never flags a number
    fully = phones.reporter_weight("user", account_age_s=age_s, reports=reports, corroborated=reports)
    assert weight <= fully
