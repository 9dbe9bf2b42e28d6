"""Risk rules and strategies: CEL expressions over an event's fields and features, validated at publish
time and compiled as a whole strategy into one CEL program (issue 15, ADR 0023).

Owns :class:`Rule`, :class:`Strategy`, :func:`compile_strategy` (every check a bad rule can fail, named by
its reason code) and :func:`evaluate` (the decision for one event's activation, which never raises: a
rule that errors at run time is counted, logged and fails safe to ``review``). Not yet in a money path:
``screening.screen`` still records the pass-through decision.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cel
import structlog

log = structlog.get_logger("earnloop.risk")

Outcome = Literal["allow", "review", "block"]
SEVERITY: dict[str, int] = {"allow": 0, "review": 1, "block": 2}
RULE_ERROR = "rule_error"  # the reason a rule that errored at run time leaves: ``rule_error:<code>``
SCORE_REVIEW = "score_review"  # the reasons the summed score's thresholds leave
SCORE_BLOCK = "score_block"

RULES_MAX = 1_000
EXPRESSION_CHARS_MAX = 4_096
SCORE_ABS_MAX = 1_000_000
CODE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
FIELD_TYPES: tuple[type, ...] = (bool, int, float, str)

# Names a CEL macro binds (``xs.exists(x, ...)``): identifiers, not fields.
_MACRO_BOUND = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")
_POSITION = re.compile(r"<input>:(\d+):(\d+):")
_NO_OVERLOAD = "No such overload"


class RuleError(ValueError):
    """A rule (or the strategy) cannot be published; ``code`` names the rule, ``line``/``column`` the
    position in its expression when the CEL parser gives one."""

    def __init__(self, code: str, message: str, *, line: int | None = None, column: int | None = None):
        where = f" at {line}:{column}" if line is not None else ""
        super().__init__(f"rule {code!r}{where}: {message}")
        self.code, self.message, self.line, self.column = code, message, line, column


@dataclass(frozen=True)
class Rule:
    """One CEL expression that must evaluate to a bool; when true it fires with its outcome and score."""

    code: str
    expression: str
    outcome: Outcome
    score: int = 0


@dataclass(frozen=True)
class Thresholds:
    """Summed-score thresholds: at or above ``review_score`` the outcome is at least review, at or above
    ``block_score`` it is block. ``None`` turns a threshold off."""

    review_score: int | None = None
    block_score: int | None = None


@dataclass(frozen=True)
class Strategy:
    """A versioned set of rules, in order, and the thresholds on their summed score."""

    version: str
    rules: tuple[Rule, ...]
    thresholds: Thresholds = Thresholds()


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    score: int
    reasons: tuple[str, ...]
    version: str
    latency_us: int


@dataclass
class CompiledStrategy:
    """A validated strategy: one program returning a list with one bool per rule (in rule order), and
    each rule's own program, used only to find which rule erred when the whole program fails."""

    strategy: Strategy
    fields: Mapping[str, type]
    program: cel.Program
    rule_programs: tuple[cel.Program, ...]
    runtime_errors: int = 0
    # the declared fields the rules read: an activation narrowed to them decides the same, faster (each
    # field handed to CEL is converted on every run)
    variables: tuple[str, ...] = ()
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_error(self) -> None:
        with self._lock:
            self.runtime_errors += 1


def compile_strategy(strategy: Strategy, fields: Mapping[str, type]) -> CompiledStrategy:
    """Validate every rule against the declared ``fields`` (name → bool/int/float/str) and compile the
    whole strategy. Raises :class:`RuleError` naming the first bad rule."""
    _check_strategy(strategy, fields)
    rule_programs = tuple(_check_rule(rule, fields) for rule in strategy.rules)
    # one rule per line: a rule's trailing ``// comment`` ends at its own line, not the strategy's
    whole = "[\n" + ",\n".join(f"({rule.expression}\n)" for rule in strategy.rules) + "\n]"
    try:
        program = cel.compile(whole)
    except ValueError as exc:  # each rule parsed alone, so only a limit of the parser is left
        raise RuleError("*", f"the whole strategy does not compile: {exc}") from exc
    variables = tuple(sorted(set(program.variables()) & set(fields)))
    return CompiledStrategy(strategy, dict(fields), program, rule_programs, variables=variables)


def narrowed(compiled: CompiledStrategy, activation: dict[str, Any]) -> dict[str, Any]:
    """The part of a full activation the strategy's rules read (what :func:`evaluate` needs)."""
    return {name: activation[name] for name in compiled.variables}


ZEROS: dict[type, Any] = {bool: False, int: 0, float: 0.0, str: ""}  # each field type's zero value


def replayed(compiled: CompiledStrategy, stored: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a stored activation the strategy reads, a field it lacks as its type's zero: stored
    activations keep only non-zero values, and a field added to the catalogue since reads as zero."""
    fields = compiled.fields
    return {name: stored.get(name, ZEROS[fields[name]]) for name in compiled.variables}


def _check_strategy(strategy: Strategy, fields: Mapping[str, type]) -> None:
    if not 1 <= len(strategy.rules) <= RULES_MAX:
        raise RuleError("*", f"a strategy has 1 to {RULES_MAX} rules, not {len(strategy.rules)}")
    for name, kind in fields.items():
        if kind not in FIELD_TYPES:
            raise RuleError("*", f"field {name!r} is a {kind.__name__}; fields are bool, int, float or str")
    seen: set[str] = set()
    for rule in strategy.rules:
        if rule.code in seen:
            raise RuleError(rule.code, "duplicate reason code")
        seen.add(rule.code)
    t = strategy.thresholds
    if t.review_score is not None and t.block_score is not None and t.review_score > t.block_score:
        raise RuleError("*", "the review threshold is above the block threshold")


def _check_rule(rule: Rule, fields: Mapping[str, type]) -> cel.Program:
    """The rule's own program, once its code, outcome, score, syntax, fields and result type pass."""
    if not CODE_PATTERN.fullmatch(rule.code):
        raise RuleError(rule.code, "a reason code is 1-64 of a-z, 0-9 and _, starting with a letter")
    if rule.outcome not in SEVERITY:
        raise RuleError(rule.code, f"outcome {rule.outcome!r} is not allow, review or block")
    if isinstance(rule.score, bool) or not isinstance(rule.score, int) or abs(rule.score) > SCORE_ABS_MAX:
        raise RuleError(rule.code, f"the score is an integer within ±{SCORE_ABS_MAX}")
    if not rule.expression.strip() or len(rule.expression) > EXPRESSION_CHARS_MAX:
        raise RuleError(rule.code, f"the expression is 1 to {EXPRESSION_CHARS_MAX} characters")
    try:
        program = cel.compile(rule.expression)
    except ValueError as exc:
        raise _syntax_error(rule.code, str(exc)) from exc
    bound = set(_MACRO_BOUND.findall(rule.expression))
    unknown = sorted(set(program.variables()) - set(fields) - bound)
    if unknown:
        raise RuleError(rule.code, f"unknown field {unknown[0]!r} (declared: {', '.join(sorted(fields))})")
    for sample in _samples(fields):
        _check_result(rule.code, program, sample)
    return program


def _syntax_error(code: str, message: str) -> RuleError:
    found = _POSITION.search(message)
    detail = message.split("ERROR: ", 1)[-1].split("\n", 1)[0]
    detail = _POSITION.sub("", detail).strip()
    if found is None:
        return RuleError(code, detail)
    return RuleError(code, detail, line=int(found[1]), column=int(found[2]))


def _samples(fields: Mapping[str, type]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two activations of the declared types (zero values and one values), to check a rule's result
    type on more than one branch."""
    zero = {name: kind() for name, kind in fields.items()}
    one = {name: {bool: True, int: 1, float: 1.0, str: "x"}[kind] for name, kind in fields.items()}
    return zero, one


def _check_result(code: str, program: cel.Program, sample: Mapping[str, Any]) -> None:
    try:
        result = program.execute(dict(sample))
    except TypeError as exc:
        if _NO_OVERLOAD in str(exc):
            raise RuleError(code, "operand types do not match (CEL does not coerce between types)") from exc
        return
    except Exception:  # e.g. a division by zero on sample values: a run-time matter
        return
    if not isinstance(result, bool):
        raise RuleError(code, f"the expression is not boolean (it gave {type(result).__name__})")


def evaluate(compiled: CompiledStrategy, activation: dict[str, Any]) -> Decision:
    """The decision for one event. ``activation`` maps the declared fields to the event's values; pass a
    plain ``dict`` built once per event. Never raises on a rule's run-time error (fails safe to review)."""
    started_ns = time.perf_counter_ns()
    try:
        fired: Sequence[object] = compiled.program.execute(activation)
        errored: list[int] = []
    except Exception:  # one rule's error must not reach the caller
        fired, errored = _rule_by_rule(compiled, activation)
    if len(fired) != len(compiled.strategy.rules) or not all(isinstance(each, bool) for each in fired):
        fired, errored = _rule_by_rule(compiled, activation)
    return decide(compiled, fired, errored, started_ns)


def decide(
    compiled: CompiledStrategy, fired: Sequence[object], errored: Sequence[int], started_ns: int
) -> Decision:
    """The decision from which rules fired (one bool per rule, in rule order) and which erred: the most
    severe fired outcome, review for an error, and the thresholds on the summed score. Shared by
    :func:`evaluate` and by any other evaluator of the same rules (the bench's plain-Python ceiling)."""
    rules = compiled.strategy.rules
    score, outcome, reasons = 0, 0, []
    for index, rule in enumerate(rules):
        if fired[index] is True:
            score += rule.score
            outcome = max(outcome, SEVERITY[rule.outcome])
            reasons.append(rule.code)
    for index in errored:
        compiled.count_error()
        outcome = max(outcome, SEVERITY["review"])
        reasons.append(f"{RULE_ERROR}:{rules[index].code}")
        log.warning("risk_rule_error", rule=rules[index].code, version=compiled.strategy.version)
    outcome = max(outcome, _threshold(compiled.strategy.thresholds, score, reasons))
    latency_us = (time.perf_counter_ns() - started_ns) // 1_000
    return Decision(OUTCOMES[outcome], score, tuple(reasons), compiled.strategy.version, latency_us)


OUTCOMES: tuple[Outcome, ...] = ("allow", "review", "block")  # by severity
_THRESHOLD_REASONS = {"block": SCORE_BLOCK, "review": SCORE_REVIEW}


def threshold_outcome(thresholds: Thresholds, score: int) -> Outcome:
    """What the thresholds alone make of a summed score."""
    if thresholds.block_score is not None and score >= thresholds.block_score:
        return "block"
    if thresholds.review_score is not None and score >= thresholds.review_score:
        return "review"
    return "allow"


def _threshold(thresholds: Thresholds, score: int, reasons: list[str]) -> int:
    outcome = threshold_outcome(thresholds, score)
    if outcome in _THRESHOLD_REASONS:
        reasons.append(_THRESHOLD_REASONS[outcome])
    return SEVERITY[outcome]


def _rule_by_rule(compiled: CompiledStrategy, activation: dict[str, Any]) -> tuple[list[bool], list[int]]:
    """Each rule's own program: which fired, and the indexes of those that erred (or gave a non-bool)."""
    fired: list[bool] = []
    errored: list[int] = []
    for index, program in enumerate(compiled.rule_programs):
        try:
            result = program.execute(activation)
        except Exception:  # counted and failed safe by the caller
            result = None
        if not isinstance(result, bool):
            errored.append(index)
        fired.append(result is True)
    return fired, errored


def fired_codes(compiled: CompiledStrategy, activation: dict[str, Any]) -> list[str]:
    """The codes of the rules that fire, each rule evaluated alone (the reference the whole-strategy
    program must agree with; also what an explain step shows)."""
    fired, _ = _rule_by_rule(compiled, activation)
    return [rule.code for rule, hit in zip(compiled.strategy.rules, fired, strict=True) if hit]
