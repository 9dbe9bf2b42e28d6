"""The plan of a run: every step every actor will take, when, and what it really is (``honest`` or an
attack type), drawn from the seed before anything runs. A step is a call on the :class:`World` made
when the simulated clock reaches its instant; steps at the same instant keep the order they were
planned in. Also the actors' origins (devices, IPs, user agents) and the handles they sign up with.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from earnloop.sim.adapter import Done, Origin
from earnloop.sim.world import DAY_NS, NS_PER_S, START_NS, Catalog, World

Step = Callable[[World], list[Done]]
HOUR_S = 3_600

# Real-world user agents of the phones the honest population (and most attackers) use.
PHONE_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_7 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 Chrome/123.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; 2312DRA50G) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 12; CPH2211) AppleWebKit/537.36 Chrome/122.0 Mobile Safari/537.36",
)
# What Android emulators and device-farm images announce.
EMULATOR_AGENTS = (
    "Mozilla/5.0 (Linux; Android 11; sdk_gphone_x86_64) AppleWebKit/537.36 Chrome/91.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; Android SDK built for x86) AppleWebKit/537.36 Chrome/83.0 Mobile",
    "Mozilla/5.0 (Linux; Android 9; Genymotion 'Phone' version) AppleWebKit/537.36 Chrome/72.0 Mobile",
    "Mozilla/5.0 (Linux; Android 12; vbox86p) AppleWebKit/537.36 Chrome/100.0 Mobile Safari/537.36",
)
SUBNETS = 512  # 198.18.0.0/15: the /24s every simulated network lives in


@dataclass(order=True)
class Planned:
    at_ns: int
    order: int
    label: str = field(compare=False)
    actor: str = field(compare=False)
    step: Step = field(compare=False)


@dataclass
class Planner:
    """Collects the steps of every actor; ``rng`` is the run's one random source (reproducibility)."""

    rng: random.Random
    run: str
    days: int
    catalog: Catalog
    steps: list[Planned] = field(default_factory=list)
    players: list[str] = field(default_factory=list)  # honest users earning from day one
    _counter: int = 0

    @property
    def end_ns(self) -> int:
        return START_NS + self.days * DAY_NS

    def at(self, day: int, seconds: float = 0.0) -> int:
        """The instant ``seconds`` into simulated ``day``."""
        return START_NS + day * DAY_NS + int(seconds * NS_PER_S)

    def waking(self, day: int) -> int:
        """A random instant of ``day`` between 07:00 and 23:00."""
        return self.at(day, self.rng.uniform(7 * HOUR_S, 23 * HOUR_S))

    def add(self, at_ns: int, label: str, actor: str, step: Step) -> bool:
        """Plan ``step``; False (and nothing planned) when ``at_ns`` falls after the simulation's end."""
        if at_ns >= self.end_ns:
            return False
        self._counter += 1
        self.steps.append(Planned(at_ns, self._counter, label, actor, step))
        return True

    def name(self, *parts: object) -> str:
        """A name unique in the run (handles, click names, transaction ids, order ids)."""
        self._counter += 1
        return "-".join([self.run, *(str(p) for p in parts), str(self._counter)])

    def handle(self, role: str) -> str:
        """A new account's handle: the run, the first 16 characters of the role and a number (at most 64
        characters for any seed)."""
        handle = self.name(role[:16]).lower()
        assert len(handle) <= 64, handle
        return handle

    def device(self) -> str:
        return f"dev-{self.rng.getrandbits(64):016x}"

    def subnet(self) -> int:
        return self.rng.randrange(SUBNETS)

    def ip(self, subnet: int | None = None) -> str:
        net = self.subnet() if subnet is None else subnet
        return f"198.{18 + net // 256}.{net % 256}.{self.rng.randrange(1, 255)}"

    def phone_origin(self, subnet: int | None = None) -> Origin:
        """A real phone of its own on a network of its own (or on ``subnet``)."""
        phone = f"+8869{self.rng.randrange(10**8):08d}"
        return Origin(self.device(), self.ip(subnet), self.rng.choice(PHONE_AGENTS), phone)

    def account_number(self) -> str:
        return f"{self.rng.randrange(10**12):012d}"
