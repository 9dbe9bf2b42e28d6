"""Risk rules: bad rules are refused at publish time with the rule named; a strategy's decisions; a rule
that errors at run time fails safe to review; the whole-strategy program agrees with each rule alone."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnloop.risk.rules import (
    Rule,
    RuleError,
    Strategy,
    Thresholds,
    compile_strategy,
    evaluate,
    fired_codes,
)

FIELDS: dict[str, type] = {"amount": int, "country": str, "clicks_1h": int, "install_s": float, "vpn": bool}
OK = Rule("ok", "amount > 0", "allow")


def _publish(*rules: Rule, thresholds: Thresholds | None = None) -> Any:
    return compile_strategy(Strategy("v1", rules, thresholds or Thresholds()), FIELDS)


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("amount >", "mismatched input"),
        ("amount > 10 &&", "mismatched input"),
        ("ammount > 10", "unknown field 'ammount'"),
        ("amount > 1 && devices.exists(d, d == 'x')", "unknown field 'devices'"),
        ("amount + 1", "not boolean (it gave int)"),
        ("country", "not boolean (it gave str)"),
        ("vpn ? 'yes' : 'no'", "not boolean"),
        ("amount + 'x' > 1", "operand types do not match"),
    ],
)
def test_a_bad_rule_is_refused_with_its_code(expression: str, says: str) -> None:
    with pytest.raises(RuleError) as raised:
        _publish(OK, Rule("bad_rule", expression, "review", 5))
    assert raised.value.code == "bad_rule"
    assert "rule 'bad_rule'" in str(raised.value)
    assert says in str(raised.value)


def test_a_syntax_error_names_its_position() -> None:
    with pytest.raises(RuleError) as raised:
        _publish(Rule("late", "amount > 10 && )", "review"))
    assert (raised.value.line, raised.value.column) == (1, 16)
    assert "rule 'late' at 1:16:" in str(raised.value)


def test_a_duplicate_reason_code_is_refused() -> None:
    with pytest.raises(RuleError, match=r"rule 'twice': duplicate reason code"):
        _publish(Rule("twice", "amount > 1", "review"), OK, Rule("twice", "amount > 2", "block"))


def test_a_macro_variable_is_not_an_unknown_field() -> None:
    compiled = _publish(Rule("tw_like", "['TW', 'HK'].exists(c, c == country)", "review", 1))
    assert evaluate(compiled, _event(country="HK")).reasons == ("tw_like",)


def test_a_rule_with_a_comment_does_not_swallow_the_next_rule() -> None:
    compiled = _publish(
        Rule("big", "amount > 10 // large orders", "review", 1), Rule("home", "country == 'TW'", "allow")
    )
    assert evaluate(compiled, _event(amount=50)).reasons == ("big", "home")


@pytest.mark.parametrize(
    "rule",
    [
        Rule("Bad-Code", "amount > 1", "review"),
        Rule("outcome", "amount > 1", "deny"),  # type: ignore[arg-type]
        Rule("huge", "amount > 1", "review", 10**9),
        Rule("empty", "  ", "review"),
        Rule("long", "amount > 1 || " * 400 + "true", "review"),
    ],
)
def test_bad_rule_settings_are_refused(rule: Rule) -> None:
    with pytest.raises(RuleError) as raised:
        _publish(rule)
    assert raised.value.code == rule.code


def _strategy() -> Any:
    return _publish(
        Rule("big_amount", "amount >= 10000", "review", 30),
        Rule("click_flood", "clicks_1h > 100", "block", 60),
        Rule("fast_install", "install_s < 10.0", "review", 20),
        Rule("vpn", "vpn", "allow", 25),
        Rule("home", "country == 'TW'", "allow", -10),
        thresholds=Thresholds(review_score=40, block_score=70),
    )


def _event(**values: Any) -> dict[str, Any]:
    return {"amount": 100, "country": "TW", "clicks_1h": 1, "install_s": 300.0, "vpn": False, **values}


@pytest.mark.parametrize(
    ("values", "outcome", "score", "reasons"),
    [
        ({}, "allow", -10, ("home",)),
        ({"country": "US"}, "allow", 0, ()),
        ({"amount": 20000}, "review", 20, ("big_amount", "home")),
        ({"clicks_1h": 500, "country": "US"}, "block", 60, ("click_flood", "score_review")),
        # two allow/review rules whose summed score crosses a threshold
        (
            {"vpn": True, "install_s": 2.0, "country": "US"},
            "review",
            45,
            ("fast_install", "vpn", "score_review"),
        ),
    ],
)
def test_a_strategys_decisions(
    values: dict[str, Any], outcome: str, score: int, reasons: tuple[str, ...]
) -> None:
    decision = evaluate(_strategy(), _event(**values))
    assert (decision.outcome, decision.score, decision.reasons) == (outcome, score, reasons)
    assert decision.version == "v1"
    assert decision.latency_us >= 0


def test_the_block_threshold_blocks_on_the_summed_score() -> None:
    decision = evaluate(_strategy(), _event(vpn=True, amount=10000, install_s=2.0, country="US"))
    assert (decision.outcome, decision.score) == ("block", 75)
    assert decision.reasons == ("big_amount", "fast_install", "vpn", "score_block")


def test_a_rule_that_errors_at_run_time_fails_safe_to_review() -> None:
    compiled = _publish(
        Rule("per_click", "amount / clicks_1h > 50", "allow", 1),
        Rule("big_amount", "amount >= 10000", "review", 30),
        Rule("home", "country == 'TW'", "allow", 0),
    )
    decision = evaluate(compiled, _event(clicks_1h=0))  # division by zero
    assert decision.outcome == "review"
    assert decision.reasons == ("home", "rule_error:per_click")
    assert compiled.runtime_errors == 1
    # a field missing from the activation: every rule that reads it errs, the others still fire
    decision = evaluate(compiled, {"amount": 20000, "clicks_1h": 1})
    assert decision.outcome == "review"
    assert decision.reasons == ("per_click", "big_amount", "rule_error:home")
    assert compiled.runtime_errors == 2
    # and a block still blocks while another rule errs
    blocking = _publish(
        Rule("per_click", "amount / clicks_1h > 50", "allow"), Rule("us", "country == 'US'", "block")
    )
    assert evaluate(blocking, _event(clicks_1h=0, country="US")).outcome == "block"


_COMPARISONS = st.sampled_from(
    [
        "amount > {n}",
        "amount <= {n}",
        "clicks_1h >= {n}",
        "install_s < {n}.5",
        "amount % 7 == {n} % 7",
        "country == 'TW'",
        "vpn",
        "!vpn",
        "amount / clicks_1h > {n}",  # errs when clicks_1h is 0
    ]
)


@st.composite
def _rules(draw: st.DrawFn) -> list[Rule]:
    count = draw(st.integers(min_value=1, max_value=12))
    rules = []
    for index in range(count):
        left = draw(_COMPARISONS).format(n=draw(st.integers(0, 200)))
        right = draw(_COMPARISONS).format(n=draw(st.integers(0, 200)))
        joiner = draw(st.sampled_from([" && ", " || "]))
        rules.append(Rule(f"r{index}", f"({left}){joiner}({right})", "review", 1))
    return rules


@settings(max_examples=200, deadline=None)
@given(
    rules=_rules(),
    amount=st.integers(0, 300),
    clicks=st.integers(0, 3),
    install_s=st.floats(0, 300, allow_nan=False),
    country=st.sampled_from(["TW", "US"]),
    vpn=st.booleans(),
)
def test_the_whole_strategy_fires_exactly_the_rules_that_fire_alone(
    rules: list[Rule], amount: int, clicks: int, install_s: float, country: str, vpn: bool
) -> None:
    compiled = compile_strategy(Strategy("p", tuple(rules), Thresholds()), FIELDS)
    event = {"amount": amount, "clicks_1h": clicks, "install_s": install_s, "country": country, "vpn": vpn}
    decision = evaluate(compiled, event)
    fired = [reason for reason in decision.reasons if not reason.startswith("rule_error:")]
    assert fired == fired_codes(compiled, event)
    alone = [rule.code for rule in rules if _fires_alone(rule, event)]
    assert fired == alone


def _fires_alone(rule: Rule, event: dict[str, Any]) -> bool:
    """One rule in a strategy of its own, through the public API."""
    decision = evaluate(compile_strategy(Strategy("one", (rule,), Thresholds()), FIELDS), event)
    return decision.reasons == (rule.code,)
