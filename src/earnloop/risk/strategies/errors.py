"""Why a strategy change is refused: each error carries its HTTP status and problem slug
(:class:`earnloop.errors.DomainError`); raising one rolls the unit of work back, so nothing changes."""

from __future__ import annotations

from dataclasses import dataclass

from earnloop.errors import DomainError


class StrategyError(DomainError, ValueError):
    """Bad input to a strategy operation (the message says which)."""

    status = 422
    slug = "invalid-strategy"
    title = "Invalid strategy"


class StrategyNotFoundError(StrategyError):
    status = 404
    slug = "strategy-not-found"
    title = "Strategy or version not found"


class StrategyConflictError(StrategyError):
    """The version is not in a state the operation needs (e.g. approving a live version)."""

    status = 409
    slug = "strategy-state-conflict"
    title = "Strategy state conflict"


class FourEyesError(StrategyError):
    """The author of a version tried to approve it while four eyes are required."""

    status = 403
    slug = "four-eyes-required"
    title = "Another operator must approve"


class RuleRefusedError(StrategyError):
    """A rule does not compile or fails a publish-time check; ``index`` is its position in the
    submitted rules (``None`` for the strategy as a whole), ``line``/``column`` the position in its
    expression when known."""

    slug = "invalid-rule"
    title = "Invalid rule"

    def __init__(self, message: str, *, code: str, index: int | None, line: int | None, column: int | None):
        super().__init__(message)
        self.code, self.index, self.line, self.column = code, index, line, column


@dataclass(frozen=True, slots=True)
class PackFailure:
    """One example of a test pack that did not get its expected outcome."""

    position: int
    label: str
    expected: str
    got: str
    reasons: tuple[str, ...]

    def describe(self) -> str:
        because = f" ({', '.join(self.reasons)})" if self.reasons else ""
        return f"#{self.position} {self.label!r}: expected {self.expected}, got {self.got}{because}"


class TestPackFailedError(StrategyError):
    """The version changes expected outcomes of its test pack; ``carried`` says whether the pack came
    from the previous version (the submission did not update it)."""

    __test__ = False  # not a pytest test class
    slug = "test-pack-failed"
    title = "Test pack failed"
    SHOWN_MAX = 20

    def __init__(self, failures: list[PackFailure], *, examples: int, carried_from: int | None):
        source = (
            f"the test pack carried over from version {carried_from}" if carried_from else "the test pack"
        )
        shown = "; ".join(failure.describe() for failure in failures[: self.SHOWN_MAX])
        more = f"; and {len(failures) - self.SHOWN_MAX} more" if len(failures) > self.SHOWN_MAX else ""
        super().__init__(
            f"{len(failures)} of {examples} examples of {source} fail: {shown}{more}"
            + (
                " (submit an updated test_pack with the version if the change is meant)"
                if carried_from
                else ""
            )
        )
        self.failures, self.carried_from = failures, carried_from
