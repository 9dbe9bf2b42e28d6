"""The credit line's configured terms (``EARNLOOP_CREDIT_LINE_*``): fee, statement cycle, grace, minimum."""

from __future__ import annotations

from dataclasses import dataclass

from earnloop.config import Settings, get_settings

BPS = 10_000
DAY_NS = 86_400 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class Terms:
    fee_bps: int = 0
    cycle_days: int = 30
    grace_days: int = 20
    minimum_bps: int = 1_000

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Terms:
        s = settings or get_settings()
        return cls(
            fee_bps=s.credit_line_fee_bps,
            cycle_days=s.credit_line_cycle_days,
            grace_days=s.credit_line_grace_days,
            minimum_bps=s.credit_line_minimum_bps,
        )

    def fee(self, amount: int) -> int:
        return amount * self.fee_bps // BPS

    def minimum(self, balance: int) -> int:
        return min(balance, max(1, -(-balance * self.minimum_bps // BPS)))
