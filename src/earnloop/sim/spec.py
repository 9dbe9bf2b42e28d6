"""What a simulation is made of: the population spec (how many of whom, for how many days, from which
seed), the attack types it can plant (the contract in ``docs/risk-attacks.md``) and the named sizes
``earnloop risk eval --scale`` offers."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

HONEST = "honest"
ATTACK_TYPES: tuple[str, ...] = (
    "click_injection",
    "click_flooding",
    "sdk_spoofing",
    "device_farm",
    "callback_replay",
    "multi_accounting",
    "refund_after_cashback",
    "stolen_account_withdrawal",
)
# The events that would move money at once if allowed: recall and the false-positive rate count these.
MONEY_KINDS = frozenset({"milestone", "conversion", "einvoice_receipt", "withdrawal", "payment"})

SEED_MAX = 2**62
USERS_MAX = 200_000
DAYS_MAX = 90
CATALOG_MAX = 200  # games, merchants or partners
ATTACKERS_MAX = 1_000  # per attack type


class SpecError(ValueError):
    """A population spec out of its bounds (named field and limit)."""


@dataclass(frozen=True)
class PopulationSpec:
    """A simulated world. ``attackers`` maps an attack type to how many independent attackers (each a
    person or ring with its own accounts and devices) plant it; a type left out plants nothing.
    The same spec always gives the same events and labels."""

    seed: int = 15
    honest_users: int = 1_000
    games: int = 8
    merchants: int = 6
    partners: int = 3
    days: int = 14
    attackers: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(ATTACK_TYPES, 6))

    def check(self) -> PopulationSpec:
        """The spec itself, once every count is within its bounds (:class:`SpecError` otherwise)."""
        _bound("seed", self.seed, 0, SEED_MAX)
        _bound("honest_users", self.honest_users, 1, USERS_MAX)
        _bound("games", self.games, 2, CATALOG_MAX)
        _bound("merchants", self.merchants, 1, CATALOG_MAX)
        _bound("partners", self.partners, 1, CATALOG_MAX)
        _bound("days", self.days, 3, DAYS_MAX)
        for attack, count in self.attackers.items():
            if attack not in ATTACK_TYPES:
                raise SpecError(
                    f"attackers: unknown attack type {attack!r} (known: {', '.join(ATTACK_TYPES)})"
                )
            _bound(f"attackers[{attack}]", count, 0, ATTACKERS_MAX)
        return self

    @property
    def run(self) -> str:
        """The run's name: the seed and a digest of the whole spec (labels are stored under it)."""
        attackers = ",".join(f"{k}={self.attackers[k]}" for k in sorted(self.attackers))
        whole = f"{self.seed}|{self.honest_users}|{self.games}|{self.merchants}|{self.partners}|{self.days}|"
        digest = hashlib.sha256((whole + attackers).encode()).hexdigest()[:10]
        return f"s{self.seed}-{digest}"


def _bound(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(f"{name}: an integer from {low} to {high}, not {value!r}")


SCALES: dict[str, PopulationSpec] = {
    "quick": PopulationSpec(
        honest_users=60, games=4, merchants=3, partners=2, days=4, attackers=dict.fromkeys(ATTACK_TYPES, 1)
    ),
    "default": PopulationSpec(),
    "large": PopulationSpec(
        honest_users=5_000,
        games=16,
        merchants=10,
        partners=5,
        days=21,
        attackers=dict.fromkeys(ATTACK_TYPES, 25),
    ),
}
